import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Gateway } from '../../src/main.js';
import { serviceKeys } from '../../src/store/redis/keys.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
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

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
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

  it('applies a weight change made through replica A on B and C within 100 ms', async () => {
    const [a, b, c] = gateways as [Gateway, Gateway, Gateway];
    expect((await admin(a, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' })).status).toBe(200);
    const lags: number[] = [];
    for (let i = 1; i <= 30; i++) {
      const started = performance.now();
      const res = await admin(a, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: i });
      const { revision } = (await res.json()) as { revision: number };
      expect(res.status).toBe(200);
      await expect
        .poll(() => Math.min(b.routing.view(SERVICE)?.state.revision ?? 0, c.routing.view(SERVICE)?.state.revision ?? 0), {
          interval: 1,
          timeout: 2000,
        })
        .toBeGreaterThanOrEqual(revision);
      lags.push(performance.now() - started);
    }
    lags.sort((x, y) => x - y);
    const p50 = percentile(lags, 0.5);
    const p99 = percentile(lags, 0.99);
    console.log(`propagation A -> B, C (write acknowledged and applied on both): p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);
    expect(b.routing.view(SERVICE)?.state.weightBp).toBe(3000);
    expect(c.routing.view(SERVICE)?.state.weightBp).toBe(3000);
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

  it('loses no update under 200 concurrent If-Match writes through two replicas', async () => {
    const [a, b] = gateways as [Gateway, Gateway, Gateway];
    const start = (await (await admin(a, 'GET', `/api/v1/services/${SERVICE}`)).json()) as { revision: number };
    const acked: Array<{ revision: number; weight: number }> = [];
    let conflicts = 0;
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const via = i % 2 === 0 ? a : b;
        const weight = (i % 100) + 0.5;
        for (let attempt = 0; attempt < 5; attempt++) {
          const current = (await (await admin(via, 'GET', `/api/v1/services/${SERVICE}`)).json()) as { revision: number };
          const res = await fetch(`${via.adminUrl}/api/v1/services/${SERVICE}/weight`, {
            method: 'POST',
            headers: { authorization: `Bearer test-operator-token-0123456789`, 'content-type': 'application/json', 'if-match': String(current.revision) },
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
      entries: Array<{ action: string; after: { revision: number; weightBp: number } }>;
    };
    const revisions = audit.entries.filter((e) => e.after.revision > start.revision).map((e) => e.after.revision).sort((x, y) => x - y);
    // Every acknowledged write is in the audit log exactly once, and nothing else is.
    expect(revisions).toEqual(acked.map((w) => w.revision).sort((x, y) => x - y));
    // Revisions are contiguous: no write was lost between two acknowledged ones.
    expect(revisions).toEqual(Array.from({ length: acked.length }, (_, i) => start.revision + 1 + i));
    const last = acked.reduce((x, y) => (y.revision > x.revision ? y : x));
    const final = (await (await admin(b, 'GET', `/api/v1/services/${SERVICE}`)).json()) as { revision: number; weight: number };
    expect(final).toMatchObject({ revision: last.revision, weight: last.weight });
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
