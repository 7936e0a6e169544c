import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { expectNoLostUpdates, expectSameRouting, expectWritesReachReplicas } from '../helpers/fleet-checks.js';
import { configYaml, startTestGateway } from '../helpers/gateway.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-server.js';

let cluster: RedisCluster;
let v1: TestBackend;
let v2: TestBackend;
let gateways: Gateway[];

beforeAll(async () => {
  [cluster, v1, v2] = await Promise.all([startRedisCluster(3), startBackend('v1'), startBackend('v2')]);
  const nodes = cluster.nodes.map((n) => `{ host: "${n.host}", port: ${n.port} }`).join(', ');
  const yaml = configYaml({ v1: [v1.url], v2: [v2.url] }, `store: { redis: { cluster: [${nodes}] } }`);
  gateways = [];
  for (let i = 0; i < 3; i++) gateways.push(await startTestGateway(yaml));
});

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await Promise.all([cluster.stop(), v1.close(), v2.close()]);
});

describe('three gateways on a three-master Redis Cluster', () => {
  it('applies a weight change made through replica A on B and C (the lag is printed)', async () => {
    await expectWritesReachReplicas(gateways, 20, 'cluster');
  });

  it('routes every key to the same version on all three replicas', async () => {
    await expectSameRouting(gateways);
  });

  it('loses no update under 100 concurrent If-Match writes through two replicas', async () => {
    await expectNoLostUpdates(gateways, 100);
  });
});
