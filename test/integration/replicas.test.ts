import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { serviceKeys } from '../../src/store/redis/keys.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { expectNoLostUpdates, expectSameRouting, expectWritesReachReplicas } from '../helpers/fleet-checks.js';
import { admin, configYaml, startTestGateway } from '../helpers/gateway.js';

const SERVICE = 'fraud-scorer';
let v1: TestBackend;
let v2: TestBackend;
let prefixSeq = 0;
/** The replicas' snapshots, kept apart from other runs' (the default is one directory for the whole host). */
const snapshotDir = mkdtempSync(join(tmpdir(), 'sy-replicas-'));

function redisYaml(url: string, prefix: string): string {
  return `store: { redis: { url: "${url}", keyPrefix: "${prefix}" } }\nsnapshot: { dir: "${snapshotDir}" }`;
}

async function replicas(count: number, url: string): Promise<{ gateways: Gateway[]; prefix: string }> {
  const prefix = `replicas${process.pid}x${++prefixSeq}`;
  const yaml = configYaml({ v1: [v1.url], v2: [v2.url] }, redisYaml(url, prefix));
  const gateways: Gateway[] = [];
  for (let i = 0; i < count; i++) gateways.push(await startTestGateway(yaml));
  return { gateways, prefix };
}

beforeAll(async () => {
  [v1, v2] = await Promise.all([startBackend('v1'), startBackend('v2')]);
});

afterAll(async () => {
  await Promise.all([v1.close(), v2.close()]);
  rmSync(snapshotDir, { recursive: true, force: true });
});

describe('three replicas on one Redis', () => {
  let gateways: Gateway[];

  beforeAll(async () => {
    ({ gateways } = await replicas(3, inject('redisUrl')));
  });

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.close()));
  });

  it('applies a weight change made through replica A on B and C (the lag is printed)', async () => {
    await expectWritesReachReplicas(gateways, 30, 'one Redis');
  });

  it('routes every key to the same version on all three replicas', async () => {
    await expectSameRouting(gateways);
  });

  it('loses no update under 200 concurrent If-Match writes through two replicas', async () => {
    await expectNoLostUpdates(gateways, 200);
  });
});

describe('live state in the store', () => {
  it('is never overwritten by the config of a replica that starts later', async () => {
    const { gateways, prefix } = await replicas(1, inject('redisUrl'));
    const [first] = gateways as [Gateway];
    await admin(first, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });
    await admin(first, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: 42 });
    const later = await startTestGateway(configYaml({ v1: [v1.url], v2: [v2.url] }, redisYaml(inject('redisUrl'), prefix)));
    try {
      expect(later.routing.view(SERVICE)?.state).toMatchObject({ candidate: 'v2', weightBp: 4200, phase: 'progressing' });
    } finally {
      await Promise.all([first.close(), later.close()]);
    }
  });

  it('is refused, not misread, when a newer Switchyard wrote it: readiness says so and routing goes on', async () => {
    const { gateways, prefix } = await replicas(1, inject('redisUrl'));
    const [gateway] = gateways as [Gateway];
    const redis = new Redis(inject('redisUrl'));
    try {
      const key = serviceKeys(prefix, SERVICE).state;
      const doc = JSON.parse((await redis.hget(key, 'doc')) ?? '{}') as Record<string, unknown>;
      await redis.hset(key, 'schema', '99', 'revision', '50', 'doc', JSON.stringify({ ...doc, schemaVersion: 99, revision: 50, stable: 'v2' }));
      await gateway.routing.refresh();
      const ready = await fetch(`${gateway.adminUrl}/readyz`);
      expect(ready.status).toBe(503);
      expect(JSON.stringify(await ready.json())).toContain('schema version 99');
      const routed = await fetch(`${gateway.proxyUrl}/fraud/x`, { headers: { 'x-user-id': 'u' } });
      expect(routed.status).toBe(200);
      expect(routed.headers.get('x-model-version')).toBe('v1');
      const write = await admin(gateway, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });
      expect(write.status).toBe(503);
    } finally {
      redis.disconnect();
      await gateway.close();
    }
  });
});
