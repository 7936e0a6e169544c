import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/main.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { admin, configYaml, OPERATOR_TOKEN, startTestGateway } from '../helpers/gateway.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-server.js';

const SERVICE = 'fraud-scorer';

let cluster: RedisCluster;
let v1: TestBackend;
let v2: TestBackend;
let gateways: Gateway[];

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

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
  it('applies a weight change made through replica A on B and C', async () => {
    const [a, b, c] = gateways as [Gateway, Gateway, Gateway];
    expect((await admin(a, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' })).status).toBe(200);
    const lags: number[] = [];
    for (let i = 1; i <= 20; i++) {
      const started = performance.now();
      const res = await admin(a, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: i });
      expect(res.status).toBe(200);
      const { revision } = (await res.json()) as { revision: number };
      await expect
        .poll(() => Math.min(b.routing.view(SERVICE)?.state.revision ?? 0, c.routing.view(SERVICE)?.state.revision ?? 0), { interval: 1, timeout: 2_000 })
        .toBeGreaterThanOrEqual(revision);
      lags.push(performance.now() - started);
    }
    lags.sort((x, y) => x - y);
    console.log(`cluster: propagation A -> B, C: p50 ${percentile(lags, 0.5).toFixed(1)} ms, p99 ${percentile(lags, 0.99).toFixed(1)} ms`);
    expect(c.routing.view(SERVICE)?.state.weightBp).toBe(2000);
  });

  it('routes every key to the same version on all three replicas', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `user-${i}`);
    const answers = await Promise.all(
      gateways.map((g) =>
        Promise.all(
          keys.map(async (key) => {
            const res = await fetch(`${g.proxyUrl}/fraud/score`, { headers: { 'x-user-id': key } });
            await res.arrayBuffer();
            return res.headers.get('x-model-version');
          }),
        ),
      ),
    );
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
    expect(new Set(answers[0])).toEqual(new Set(['v1', 'v2']));
  });

  it('loses no update under 100 concurrent If-Match writes through two replicas', async () => {
    const [a, b] = gateways as [Gateway, Gateway, Gateway];
    const start = (await (await admin(a, 'GET', `/api/v1/services/${SERVICE}`)).json()) as { revision: number };
    const acked: Array<{ revision: number; weight: number }> = [];
    let conflicts = 0;
    await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const via = i % 2 === 0 ? a : b;
        const weight = (i % 100) + 0.5;
        for (let attempt = 0; attempt < 5; attempt++) {
          const current = (await (await admin(via, 'GET', `/api/v1/services/${SERVICE}`)).json()) as { revision: number };
          const res = await fetch(`${via.adminUrl}/api/v1/services/${SERVICE}/weight`, {
            method: 'POST',
            headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json', 'if-match': String(current.revision) },
            body: JSON.stringify({ weight }),
          });
          const body = (await res.json()) as { revision: number };
          if (res.status === 200) {
            acked.push({ revision: body.revision, weight });
            return;
          }
          expect(res.status).toBe(409);
          conflicts++;
        }
      }),
    );
    expect(acked.length).toBeGreaterThan(0);
    expect(conflicts).toBeGreaterThan(0);
    const audit = (await (await admin(a, 'GET', `/api/v1/audit?service=${SERVICE}&limit=500`)).json()) as {
      entries: Array<{ after: { revision: number } }>;
    };
    const revisions = audit.entries.filter((e) => e.after.revision > start.revision).map((e) => e.after.revision).sort((x, y) => x - y);
    // Every acknowledged write is in the audit log exactly once, nothing else is, and no revision is skipped.
    expect(revisions).toEqual(acked.map((w) => w.revision).sort((x, y) => x - y));
    expect(revisions).toEqual(Array.from({ length: acked.length }, (_, i) => start.revision + 1 + i));
    const last = acked.reduce((x, y) => (y.revision > x.revision ? y : x));
    const final = (await (await admin(b, 'GET', `/api/v1/services/${SERVICE}`)).json()) as { revision: number; weight: number };
    expect(final).toMatchObject({ revision: last.revision, weight: last.weight });
  });
});
