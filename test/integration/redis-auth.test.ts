import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/app/logger.js';
import { parseConfig } from '../../src/config/load.js';
import { createRedisStore } from '../../src/store/redis/connect.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { configYaml, OPERATOR_TOKEN } from '../helpers/gateway.js';
import { startRedisCluster, startSentinelGroup, type RedisAddress, type RedisCluster, type SentinelGroup } from '../helpers/redis-server.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';

/**
 * Redis that asks for passwords, as managed Redis and most Helm charts do: the
 * servers of a Sentinel group (`requirepass`, given to the gateway as
 * `store.redis.password`), the sentinels themselves (`sentinelPassword`), and the
 * nodes of a Cluster. The passwords reach the config as `${VAR}`, from the
 * environment, as a Kubernetes Secret gives them.
 */

const SERVICE = 'fraud-scorer';
const SERVER_PASSWORD = 'server-password-0123';
const SENTINEL_PASSWORD = 'sentinel-password-4567';

const nodeList = (nodes: readonly RedisAddress[]) => nodes.map((n) => `{ host: "${n.host}", port: ${n.port} }`).join(', ');

async function readyz(gateway: ServeProcess): Promise<{ status: number; body: { ready: boolean; store: string; problems?: string[]; warnings?: string[] } }> {
  const res = await fetch(`${gateway.adminUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; store: string; problems?: string[]; warnings?: string[] } };
}

function post(gateway: ServeProcess, path: string, body: unknown): Promise<Response> {
  return fetch(`${gateway.adminUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('a Sentinel group whose servers and sentinels ask for passwords', () => {
  let group: SentinelGroup;
  let v1: TestBackend;
  let v2: TestBackend;
  const gateways: ServeProcess[] = [];

  const yaml = () =>
    configYaml(
      { v1: [v1.url], v2: [v2.url] },
      `store: { redis: { sentinels: [${nodeList(group.sentinels)}], name: "${group.name}", password: "\${SY_REDIS_PASSWORD}", sentinelPassword: "\${SY_SENTINEL_PASSWORD}" } }`,
    ).replace('log: { level: silent }', 'log: { level: info }');
  /** A gateway that starts with nothing but its config: no snapshot a test before it left behind. */
  const fresh = (text: string) => text.replace('log: { level: info }', 'log: { level: info }\nsnapshot: { enabled: false }');

  beforeAll(async () => {
    [group, v1, v2] = await Promise.all([startSentinelGroup({ password: SERVER_PASSWORD, sentinelPassword: SENTINEL_PASSWORD }), startBackend('v1'), startBackend('v2')]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all([group?.stop(), v1?.close(), v2?.close()]);
  });

  it('switchyard serve with both passwords from the environment is ready, and a weight change lands on the master', async () => {
    const gateway = await startServeProcess(yaml(), [], { SY_REDIS_PASSWORD: SERVER_PASSWORD, SY_SENTINEL_PASSWORD: SENTINEL_PASSWORD });
    gateways.push(gateway);
    await expect.poll(async () => (await readyz(gateway)).body, { timeout: 15_000, interval: 100 }).toEqual({ ready: true, store: 'up' });

    expect((await post(gateway, `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' })).status).toBe(200);
    const res = await post(gateway, `/api/v1/services/${SERVICE}/weight`, { weight: 30 });
    expect(res.status).toBe(200);
    const { revision } = (await res.json()) as { revision: number };

    // What a second replica would read: the state on the master the sentinels name, behind its password.
    const master = await group.master();
    const direct = new Redis({ host: master.host, port: master.port, password: SERVER_PASSWORD, lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await direct.connect();
      const keys = await direct.keys('sy:*');
      expect(keys.length).toBeGreaterThan(0);
    } finally {
      direct.disconnect();
    }
    expect(revision).toBeGreaterThan(1);
    // The password never reaches the log.
    expect(JSON.stringify(gateway.logs)).not.toContain(SERVER_PASSWORD);
    expect(JSON.stringify(gateway.logs)).not.toContain(SENTINEL_PASSWORD);
  }, 60_000);

  it.each([
    ['the servers’ password is wrong', { SY_REDIS_PASSWORD: 'not-the-password', SY_SENTINEL_PASSWORD: SENTINEL_PASSWORD }, /^store unreachable: WRONGPASS /],
    ['the sentinels’ password is wrong', { SY_REDIS_PASSWORD: SERVER_PASSWORD, SY_SENTINEL_PASSWORD: 'not-the-password' }, /^store unreachable: All sentinels are unreachable\..* Last error: WRONGPASS /],
  ])('when %s, the gateway starts, says why the store is down, and refuses writes with 503 instead of hanging', async (_what, env, why) => {
    const gateway = await startServeProcess(fresh(yaml()), [], env);
    gateways.push(gateway);
    const started = gateway.logs.find((l) => String(l.msg).startsWith('started without the store'));
    expect(started?.msg).toMatch(/WRONGPASS/);
    // It routes on its config (fail-static), but a replica that never read the shared state is not ready.
    const answer = await readyz(gateway);
    expect({ status: answer.status, ready: answer.body.ready, store: answer.body.store }).toEqual({ status: 503, ready: false, store: 'down' });
    expect(answer.body.warnings).toEqual([expect.stringMatching(/WRONGPASS/)]);
    const proxied = await fetch(`${gateway.proxyUrl}/fraud/score`, { headers: { 'x-user-id': 'u1' } });
    expect({ status: proxied.status, version: proxied.headers.get('x-model-version') }).toEqual({ status: 200, version: 'v1' });

    const refused = await post(gateway, `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });
    expect(refused.status).toBe(503);
    const body = (await refused.json()) as { code: string; detail: string };
    expect(body.code).toBe('SY_ERR_STORE_UNAVAILABLE');
    expect(body.detail).toMatch(why);
    expect(JSON.stringify([body, answer.body, gateway.logs])).not.toContain('not-the-password');
  }, 60_000);
});

describe('a Redis Cluster whose nodes ask for a password', () => {
  let cluster: RedisCluster;
  const stores: RedisStore[] = [];

  const storeWith = (password: string | undefined, username?: string): RedisStore => {
    const credentials = [...(username === undefined ? [] : [`username: ${username}`]), ...(password === undefined ? [] : [`password: "${password}"`])];
    const fields = [`cluster: [${nodeList(cluster.nodes)}]`, ...credentials].join(', ');
    const redis = parseConfig(configYaml({ v1: ['http://127.0.0.1:9'] }, `store: { redis: { ${fields} } }`), {}).store.redis;
    if (redis === undefined) throw new Error('the config lost store.redis');
    const store = createRedisStore(redis, silentLogger, { startupWaitMs: 5_000 });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    cluster = await startRedisCluster(3, { password: SERVER_PASSWORD });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await cluster?.stop();
  });

  it('is reached with store.redis.password, and refused without it, naming why', async () => {
    const store = storeWith(SERVER_PASSWORD);
    expect(await store.getState(SERVICE)).toBeNull();
    // The change feed's own connection comes up beside the command one.
    await expect.poll(() => store.health(), { timeout: 10_000, interval: 50 }).toEqual({ up: true, reason: null });

    const without = storeWith(undefined);
    await expect(without.getState(SERVICE)).rejects.toMatchObject({ code: 'SY_ERR_STORE_UNAVAILABLE', message: expect.stringMatching(/^store unreachable: .* Last error: NOAUTH /) });
    expect(without.health()).toEqual({ up: false, reason: expect.stringMatching(/^redis: .* Last error: NOAUTH /) });
  }, 60_000);

  it('is reached as an ACL user with store.redis.username, and refused with that user’s wrong password', async () => {
    // An ACL user of its own on every node, as a managed Redis gives each client.
    for (const node of cluster.nodes) {
      const admin = new Redis({ host: node.host, port: node.port, password: SERVER_PASSWORD, lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await admin.connect();
        await admin.call('ACL', 'SETUSER', 'switchyard', 'on', '>user-password-89', '~*', '&*', '+@all');
      } finally {
        admin.disconnect();
      }
    }
    const store = storeWith('user-password-89', 'switchyard');
    expect(await store.getState(SERVICE)).toBeNull();
    await expect.poll(() => store.health(), { timeout: 10_000, interval: 50 }).toEqual({ up: true, reason: null });

    const wrong = storeWith(SERVER_PASSWORD, 'switchyard');
    await expect(wrong.getState(SERVICE)).rejects.toMatchObject({ code: 'SY_ERR_STORE_UNAVAILABLE', message: expect.stringMatching(/Last error: WRONGPASS /) });
  }, 60_000);
});
