import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { admin, configYaml, OPERATOR_TOKEN, startTestGateway } from '../helpers/gateway.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';

/**
 * A `switchyard serve` started while Redis is down: it listens and routes on its
 * local snapshot (or on the config's initial rollout, marked stale), says so in
 * /readyz, the log and the metrics, joins Redis when it starts, and exits on
 * SIGTERM instead of hanging.
 */

const SERVICE = 'fraud-scorer';
const USERS = Array.from({ length: 40 }, (_, i) => `user-${i}`);
/** Bounds, not expectations: a start with Redis down waits 5 s for the first connection. */
const LISTEN_BOUND_MS = 30_000;
const JOIN_BOUND_MS = 15_000;
const EXIT_BOUND_MS = 10_000;

let v1: TestBackend;
let v2: TestBackend;
let redis: RedisServer;
let snapshotDir: string;
let serve: ServeProcess | undefined;

/** The gateway config on this test's Redis and snapshot directory, logging, with no drain delay. */
function yaml(): string {
  const store = `store: { redis: { url: "${redis.url}" } }\nsnapshot: { dir: "${snapshotDir}" }`;
  return configYaml({ v1: [v1.url], v2: [v2.url] }, store)
    .replace('log: { level: silent }', 'log: { level: info }')
    .replace('proxy: { listen: "127.0.0.1:0" }', 'proxy: { listen: "127.0.0.1:0", drainDelay: 0s, drainTimeout: 2s }');
}

async function versionsOf(proxyUrl: string, users: readonly string[]): Promise<Record<string, string>> {
  const answers = await Promise.all(
    users.map(async (user) => {
      const res = await fetch(`${proxyUrl}/fraud/score`, { headers: { 'x-user-id': user } });
      await res.arrayBuffer();
      return [user, `${res.status} ${res.headers.get('x-model-version') ?? '?'}`] as const;
    }),
  );
  return Object.fromEntries(answers);
}

async function readiness(adminUrl: string): Promise<{ status: number; problems: string; warnings: string }> {
  const res = await fetch(`${adminUrl}/readyz`);
  const body = (await res.json()) as { problems?: string[]; warnings?: string[] };
  return { status: res.status, problems: (body.problems ?? []).join('\n'), warnings: (body.warnings ?? []).join('\n') };
}

async function routingSource(adminUrl: string): Promise<string> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return text.split('\n').find((line) => line.startsWith(`switchyard_routing_source{service="${SERVICE}"`) && line.endsWith(' 1')) ?? 'none';
}

async function get(adminUrl: string, path: string): Promise<unknown> {
  return (await fetch(`${adminUrl}${path}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).json();
}

/** The pins as stored (key, version, reason, author, creation and expiry), without the time left, which moves. */
async function pinsOf(adminUrl: string): Promise<unknown[]> {
  const { overrides } = (await get(adminUrl, `/api/v1/services/${SERVICE}/overrides`)) as { overrides: Array<Record<string, unknown>> };
  return overrides.map(({ expiresInMs: _, ...pin }) => pin);
}

beforeAll(async () => {
  [v1, v2] = await Promise.all([startBackend('v1'), startBackend('v2')]);
});

afterAll(async () => {
  await Promise.all([v1.close(), v2.close()]);
});

beforeEach(async () => {
  redis = await startRedis();
  snapshotDir = mkdtempSync(join(tmpdir(), 'sy-snapshot-start-'));
});

afterEach(async () => {
  await serve?.stop();
  serve = undefined;
  await redis.stop();
  rmSync(snapshotDir, { recursive: true, force: true });
});

describe('serve started while Redis is down', () => {
  it('routes on its snapshot, says so, joins Redis when it starts and writes back what Redis lacks', async () => {
    // A first life with Redis: a canary at 30 % and two pinned users, kept in the snapshot when it stops.
    const first = await startTestGateway(yaml());
    expect((await admin(first, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' })).status).toBe(200);
    expect((await admin(first, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: 30 })).status).toBe(200);
    for (const [user, version] of [['user-0', 'v2'], ['user-1', 'v1']]) {
      expect((await admin(first, 'PUT', `/api/v1/services/${SERVICE}/overrides/${user}`, { version, reason: `pinned ${user}`, ttl: '1h' })).status).toBe(200);
    }
    const before = await versionsOf(first.proxyUrl, USERS);
    const pins = await pinsOf(first.adminUrl);
    expect(pins).toHaveLength(2);
    await first.close();
    expect(readdirSync(snapshotDir)).toHaveLength(1);
    expect(new Set(Object.values(before))).toEqual(new Set(['200 v1', '200 v2']));

    await redis.kill();
    serve = await startServeProcess(yaml());
    expect(await versionsOf(serve.proxyUrl, USERS)).toEqual(before);
    const down = await readiness(serve.adminUrl);
    // Ready, as any replica without the store that knows its state: it routes on what it knew, and admin writes fail.
    expect(down.status).toBe(200);
    expect(down.warnings).toContain('store unreachable');
    expect(down.warnings).toContain(`routing service ${SERVICE} on the local snapshot written`);
    expect(await routingSource(serve.adminUrl)).toBe(`switchyard_routing_source{service="${SERVICE}",source="snapshot"} 1`);
    expect(serve.logs.some((l) => String(l.msg).startsWith("started without the store's state"))).toBe(true);

    await redis.restart();
    const adminUrl = serve.adminUrl;
    // Joined: the store was read, so nothing is left to warn about.
    await expect.poll(async () => await readiness(adminUrl), { timeout: JOIN_BOUND_MS }).toEqual({ status: 200, problems: '', warnings: '' });
    expect(await routingSource(adminUrl)).toBe(`switchyard_routing_source{service="${SERVICE}",source="store"} 1`);
    // Redis came back empty: the state and the pins it lacked were written back from what the gateway knew.
    expect(await get(adminUrl, `/api/v1/services/${SERVICE}`)).toMatchObject({ candidate: 'v2', weight: 30 });
    expect(await pinsOf(adminUrl)).toEqual(pins);
    expect(await versionsOf(serve.proxyUrl, USERS)).toEqual(before);

    serve.child.kill('SIGTERM');
    expect(await serve.exitWithin(EXIT_BOUND_MS)).toBe(0);
  }, 90_000);

  it('without a snapshot routes on the config, marked stale, and exits on SIGTERM instead of hanging', async () => {
    await redis.kill();
    serve = await startServeProcess(yaml());
    expect(new Set(Object.values(await versionsOf(serve.proxyUrl, USERS)))).toEqual(new Set(['200 v1']));
    const down = await readiness(serve.adminUrl);
    expect(down.status).toBe(503);
    expect(down.problems).toContain(`routing service ${SERVICE} on the config's initial rollout, possibly stale (no snapshot)`);
    expect(await routingSource(serve.adminUrl)).toBe(`switchyard_routing_source{service="${SERVICE}",source="config"} 1`);
    // Nothing came from the store, so nothing was worth keeping.
    expect(readdirSync(snapshotDir)).toEqual([]);

    serve.child.kill('SIGTERM');
    expect(await serve.exitWithin(EXIT_BOUND_MS)).toBe(0);
  }, LISTEN_BOUND_MS + EXIT_BOUND_MS + 10_000);
});
