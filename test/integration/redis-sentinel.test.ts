import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { expectSameRouting, expectWritesReachReplicas } from '../helpers/fleet-checks.js';
import { admin, configYaml, startTestGateway } from '../helpers/gateway.js';
import { startSentinelGroup, type SentinelGroup } from '../helpers/redis-server.js';

const SERVICE = 'fraud-scorer';

let group: SentinelGroup;
let v1: TestBackend;
let v2: TestBackend;
let gateways: Gateway[];

/**
 * Steady sticky traffic through every gateway, round-robin, until stopped (or for
 * a minute at most, should a failing test never stop it); each key remembers the
 * versions that answered it.
 */
function traffic(through: readonly Gateway[]) {
  let stopped = false;
  const deadline = performance.now() + 60_000;
  const counts = { sent: 0, failed: 0 };
  const versionsByKey = new Map<string, Set<string>>();
  const workers = Array.from({ length: 4 }, async (_, w) => {
    for (let i = 0; !stopped && performance.now() < deadline; i++) {
      const gateway = through[(w + i) % through.length] as Gateway;
      const key = `user-${w}-${i % 50}`;
      counts.sent++;
      try {
        const res = await fetch(`${gateway.proxyUrl}/fraud/score`, { headers: { 'x-user-id': key } });
        await res.arrayBuffer();
        if (res.status !== 200) counts.failed++;
        const seen = versionsByKey.get(key) ?? new Set<string>();
        seen.add(res.headers.get('x-model-version') ?? '?');
        versionsByKey.set(key, seen);
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
      return { ...counts, versionsByKey };
    },
  };
}

beforeAll(async () => {
  [group, v1, v2] = await Promise.all([startSentinelGroup({ downAfterMs: 1_000 }), startBackend('v1'), startBackend('v2')]);
  const sentinels = group.sentinels.map((s) => `{ host: "${s.host}", port: ${s.port} }`).join(', ');
  const yaml = configYaml({ v1: [v1.url], v2: [v2.url] }, `store: { redis: { sentinels: [${sentinels}], name: "${group.name}" } }`);
  gateways = [];
  for (let i = 0; i < 3; i++) gateways.push(await startTestGateway(yaml));
});

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await Promise.all([group.stop(), v1.close(), v2.close()]);
});

describe('three gateways on a Sentinel group', () => {
  it('applies a weight change made through replica A on B and C (the lag is printed)', async () => {
    await expectWritesReachReplicas(gateways, 20, 'sentinel');
  });

  it('routes every key to the same version on all three replicas', async () => {
    await expectSameRouting(gateways);
  });

  // Last in the file: it kills the master for good.
  it('keeps serving through a failover under load; writes fail fast meanwhile and resume on the promoted replica', { timeout: 60_000 }, async () => {
    const [a, b, c] = gateways as [Gateway, Gateway, Gateway];
    expect((await admin(a, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: 30 })).status).toBe(200);
    const before = (await (await admin(a, 'GET', `/api/v1/services/${SERVICE}`)).json()) as { revision: number };
    // Replication is asynchronous: only a write the replica has acknowledged is sure to outlive the master.
    const witness = new Redis({ sentinels: [...group.sentinels], name: group.name });
    expect(await witness.wait(1, 2_000)).toBe(1);
    witness.disconnect();

    const load = traffic(gateways);
    await expect.poll(() => load.counts.sent, { timeout: 5_000 }).toBeGreaterThan(200);
    const killedAt = performance.now();
    const sentBeforeKill = load.counts.sent;
    const old = await group.killMaster();

    // Writes keep coming through A; until a gateway reaches the promoted replica each is refused at once.
    const refusals: number[] = [];
    let accepted: { revision: number } | null = null;
    while (accepted === null && performance.now() - killedAt < 30_000) {
      const started = performance.now();
      // The same weight: assignments stay put, so every key must keep its version through the failover.
      const res = await admin(a, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: 30 });
      const body = (await res.json()) as { revision: number; code?: string };
      if (res.status === 200) {
        accepted = body;
        break;
      }
      expect({ status: res.status, code: body.code }).toEqual({ status: 503, code: 'SY_ERR_STORE_UNAVAILABLE' });
      refusals.push(performance.now() - started);
      // Pacing: a refused write answers at once, and the loop must not starve the proxy of the 2 cores.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const writableMs = performance.now() - killedAt;
    const sentDuringOutage = load.counts.sent - sentBeforeKill;
    // The sentinel asked may hear of the promotion a moment after the one that led it (and the gateways) did.
    await expect.poll(async () => (await group.master()).port, { interval: 50, timeout: 10_000 }).not.toBe(old.port);
    // The state the replica had acknowledged survived, and the write came right after it.
    expect(accepted).toMatchObject({ revision: before.revision + 1 });

    await expect.poll(() => gateways.every((g) => g.store.health().up), { interval: 20, timeout: 10_000 }).toBe(true);
    const upMs = performance.now() - killedAt;
    const counts = await load.stop();

    // The change feed runs on the promoted replica: a write reaches B and C well before the 5 s re-read would.
    expect((await admin(a, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: 60 })).status).toBe(200);
    await expect.poll(() => [b.routing.view(SERVICE)?.state.weightBp, c.routing.view(SERVICE)?.state.weightBp], { interval: 5, timeout: 2_000 }).toEqual([6000, 6000]);

    refusals.sort((x, y) => x - y);
    const slowest = refusals.at(-1) ?? 0;
    console.log(
      `sentinel failover under load: ${counts.sent} requests sent (${sentDuringOutage} while no master took writes), ${counts.failed} failed; ` +
        `writable again ${writableMs.toFixed(0)} ms after the kill (${refusals.length} writes refused meanwhile, slowest refusal ${slowest.toFixed(0)} ms); ` +
        `every gateway's store up after ${upMs.toFixed(0)} ms`,
    );
    expect(counts.failed).toBe(0);
    // Requests kept flowing while the store was down, not only around the outage.
    expect(sentDuringOutage).toBeGreaterThan(50);
    expect([...counts.versionsByKey.values()].filter((versions) => versions.size !== 1)).toEqual([]);
    // Writes failed fast: had they waited for a master, the first would have hung until the promotion and been accepted.
    expect(refusals.length).toBeGreaterThan(0);
  });
});
