import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { admin, configYaml, startTestGateway } from '../helpers/gateway.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

const SERVICE = 'fraud-scorer';

/** Steady traffic through the given gateways until stopped; counts failures. */
function traffic(gateways: readonly Gateway[]) {
  let stopped = false;
  const counts = { sent: 0, failed: 0, byVersion: new Map<string, number>() };
  const workers = Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; !stopped; i++) {
      const gateway = gateways[(w + i) % gateways.length] as Gateway;
      counts.sent++;
      try {
        const res = await fetch(`${gateway.proxyUrl}/fraud/score`, { method: 'POST', body: '{}', headers: { 'x-user-id': `u${w}-${i % 50}` } });
        await res.arrayBuffer();
        if (res.status !== 200) counts.failed++;
        const v = res.headers.get('x-model-version') ?? '?';
        counts.byVersion.set(v, (counts.byVersion.get(v) ?? 0) + 1);
      } catch {
        counts.failed++;
      }
    }
  });
  return {
    counts,
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
      return counts;
    },
  };
}

/** What a load balancer and an operator read from /readyz: the status, and whether the replica reaches its store. */
async function readiness(gateway: Gateway): Promise<{ status: number; store: string }> {
  const res = await fetch(`${gateway.adminUrl}/readyz`);
  return { status: res.status, store: ((await res.json()) as { store: string }).store };
}

describe('Redis killed under traffic', () => {
  let redis: RedisServer;
  let v1: TestBackend;
  let v2: TestBackend;
  let gateways: Gateway[];
  const snapshotDir = mkdtempSync(join(tmpdir(), 'sy-fail-static-'));

  beforeAll(async () => {
    [redis, v1, v2] = await Promise.all([startRedis(), startBackend('v1'), startBackend('v2')]);
    const yaml = configYaml({ v1: [v1.url], v2: [v2.url] }, `store: { redis: { url: "${redis.url}" } }\nsnapshot: { dir: "${snapshotDir}" }`);
    gateways = [await startTestGateway(yaml, { resyncMs: 500 }), await startTestGateway(yaml, { resyncMs: 500 })];
  });

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    await Promise.all([redis.stop(), v1.close(), v2.close()]);
    rmSync(snapshotDir, { recursive: true, force: true });
  });

  it('keeps routing on the last known state, refuses writes with 503, and resynchronises when Redis returns', async () => {
    const [a, b] = gateways as [Gateway, Gateway];
    await admin(a, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });
    await admin(a, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: 30 });
    await expect.poll(() => b.routing.view(SERVICE)?.state.weightBp).toBe(3000);

    const load = traffic(gateways);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await redis.kill();

    // Both stay ready: a load balancer that followed /readyz would otherwise drop every replica at once.
    await expect.poll(() => readiness(a), { timeout: 3000 }).toEqual({ status: 200, store: 'down' });
    const answer = await fetch(`${b.adminUrl}/readyz`);
    const ready = (await answer.json()) as { ready: boolean; warnings: string[] };
    expect(answer.status).toBe(200);
    expect(ready.ready).toBe(true);
    expect(ready.warnings.join(' ')).toContain('store unreachable');
    expect((await fetch(`${a.adminUrl}/healthz`)).status).toBe(200);

    const refused = await admin(a, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: 60 });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { code: string }).code).toBe('SY_ERR_STORE_UNAVAILABLE');
    const duringOutage = load.counts.sent;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(load.counts.sent).toBeGreaterThan(duringOutage);

    await redis.restart();
    await expect.poll(() => readiness(a), { timeout: 10_000 }).toEqual({ status: 200, store: 'up' });
    await expect.poll(() => readiness(b), { timeout: 10_000 }).toEqual({ status: 200, store: 'up' });

    // The restarted Redis was empty: the replicas put back the state they knew.
    const state = (await (await admin(a, 'GET', `/api/v1/services/${SERVICE}`)).json()) as { weight: number; candidate: string };
    expect(state).toMatchObject({ weight: 30, candidate: 'v2' });
    // Subscriptions are back: a write through A reaches B without a restart.
    expect((await admin(a, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: 60 })).status).toBe(200);
    await expect.poll(() => b.routing.view(SERVICE)?.state.weightBp, { timeout: 2000 }).toBe(6000);

    const counts = await load.stop();
    console.log(`fail-static: ${counts.sent} requests through the outage, ${counts.failed} failed`);
    expect(counts.sent).toBeGreaterThan(100);
    expect(counts.failed).toBe(0);
  });

  it('keeps pinned users on their version through a restart that empties Redis: the pins are written back whole', async () => {
    const [a, b] = gateways as [Gateway, Gateway];
    const users = Array.from({ length: 12 }, (_, i) => `pinned-${i}`);
    // Each user is pinned to the version the weight would not give them, so a lost pin shows.
    const bucketed = await versionsVia(a, users);
    for (const user of users) {
      const version = bucketed[user] === 'v1' ? 'v2' : 'v1';
      const res = await admin(a, 'PUT', `/api/v1/services/${SERVICE}/overrides/${user}`, { version, reason: `support ticket for ${user}`, ttl: '2h' });
      expect(res.status).toBe(200);
    }
    const pinned = Object.fromEntries(users.map((user) => [user, bucketed[user] === 'v1' ? 'v2' : 'v1']));
    await expect.poll(() => versionsVia(b, users)).toEqual(pinned);
    const pinsBefore = await pinsOf(a);

    await redis.kill();
    await expect.poll(() => readiness(a), { timeout: 3000 }).toEqual({ status: 200, store: 'down' });
    expect(await versionsVia(a, users)).toEqual(pinned);
    await redis.restart();
    for (const gateway of gateways) {
      await expect.poll(() => readiness(gateway), { timeout: 10_000 }).toEqual({ status: 200, store: 'up' });
    }

    // Reasons, authors, creation and expiry came back as they were, and both replicas route the pinned users as before.
    await expect.poll(() => pinsOf(a), { timeout: 5_000 }).toEqual(pinsBefore);
    expect(await pinsOf(b)).toEqual(pinsBefore);
    await expect.poll(() => versionsVia(a, users), { timeout: 5_000 }).toEqual(pinned);
    await expect.poll(() => versionsVia(b, users), { timeout: 5_000 }).toEqual(pinned);
    const audit = (await (await admin(a, 'GET', `/api/v1/audit?service=${SERVICE}&limit=100`)).json()) as { entries: Array<{ actor: string; action: string }> };
    expect(audit.entries.filter((e) => e.actor === 'resync' && e.action === 'override-put')).toHaveLength(users.length);
  });
});

async function versionsVia(gateway: Gateway, users: readonly string[]): Promise<Record<string, string>> {
  const versions = await Promise.all(
    users.map(async (user) => {
      const res = await fetch(`${gateway.proxyUrl}/fraud/score`, { headers: { 'x-user-id': user } });
      await res.arrayBuffer();
      return [user, res.headers.get('x-model-version') ?? `status ${res.status}`] as const;
    }),
  );
  return Object.fromEntries(versions);
}

/** The pins as stored, without the time left, which moves. */
async function pinsOf(gateway: Gateway): Promise<unknown[]> {
  const { overrides } = (await (await admin(gateway, 'GET', `/api/v1/services/${SERVICE}/overrides`)).json()) as { overrides: Array<Record<string, unknown>> };
  return overrides.map(({ expiresInMs: _, ...pin }) => pin);
}
