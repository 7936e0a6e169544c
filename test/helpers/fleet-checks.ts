import { expect } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { admin, OPERATOR_TOKEN } from './gateway.js';

/** Replicas of one deployment, however they share a store (one Redis, Sentinel, a Cluster): what every deployment must show. */

const SERVICE = 'fraud-scorer';

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/**
 * Starts a rollout through A, then sets the weight to 1, 2, ... `writes` through
 * A; each write's revision must reach B and C. The lag (write acknowledged and
 * applied on both) is printed, never bounded: the wait is only a liveness limit.
 */
export async function expectWritesReachReplicas(gateways: readonly Gateway[], writes: number, label: string): Promise<void> {
  const [a, b, c] = gateways as [Gateway, Gateway, Gateway];
  expect((await admin(a, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' })).status).toBe(200);
  const lags: number[] = [];
  for (let i = 1; i <= writes; i++) {
    const started = performance.now();
    const res = await admin(a, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: i });
    expect(res.status).toBe(200);
    const { revision } = (await res.json()) as { revision: number };
    await expect
      .poll(() => Math.min(b.routing.view(SERVICE)?.state.revision ?? 0, c.routing.view(SERVICE)?.state.revision ?? 0), { interval: 1, timeout: 10_000 })
      .toBeGreaterThanOrEqual(revision);
    lags.push(performance.now() - started);
  }
  lags.sort((x, y) => x - y);
  console.log(`${label}: propagation A -> B, C (write acknowledged and applied on both): p50 ${percentile(lags, 0.5).toFixed(1)} ms, p99 ${percentile(lags, 0.99).toFixed(1)} ms`);
  expect(b.routing.view(SERVICE)?.state.weightBp).toBe(writes * 100);
  expect(c.routing.view(SERVICE)?.state.weightBp).toBe(writes * 100);
}

/** 200 keys asked of every replica get the same versions, both versions among them. */
export async function expectSameRouting(gateways: readonly Gateway[]): Promise<void> {
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
  for (const other of answers.slice(1)) expect(other).toEqual(answers[0]);
  expect(new Set(answers[0])).toEqual(new Set(['v1', 'v2']));
}

/**
 * `writes` concurrent If-Match weight writes through A and B, each retried on
 * a 409 up to five times: every acknowledged write is in the audit log exactly
 * once, nothing else is, no revision is skipped, and the last one stands.
 */
export async function expectNoLostUpdates(gateways: readonly Gateway[], writes: number): Promise<void> {
  const [a, b] = gateways as [Gateway, Gateway];
  const start = (await (await admin(a, 'GET', `/api/v1/services/${SERVICE}`)).json()) as { revision: number };
  const acked: Array<{ revision: number; weight: number }> = [];
  let conflicts = 0;
  await Promise.all(
    Array.from({ length: writes }, async (_, i) => {
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
  const audit = (await (await admin(a, 'GET', `/api/v1/audit?service=${SERVICE}&limit=500`)).json()) as { entries: Array<{ after: { revision: number } }> };
  const revisions = audit.entries.filter((e) => e.after.revision > start.revision).map((e) => e.after.revision).sort((x, y) => x - y);
  expect(revisions).toEqual(acked.map((w) => w.revision).sort((x, y) => x - y));
  expect(revisions).toEqual(Array.from({ length: acked.length }, (_, i) => start.revision + 1 + i));
  const last = acked.reduce((x, y) => (y.revision > x.revision ? y : x));
  const final = (await (await admin(b, 'GET', `/api/v1/services/${SERVICE}`)).json()) as { revision: number; weight: number };
  expect(final).toMatchObject({ revision: last.revision, weight: last.weight });
}
