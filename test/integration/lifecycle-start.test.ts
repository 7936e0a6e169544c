import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { leaseKey } from '../../src/store/redis/keys.js';
import { configYaml } from '../helpers/gateway.js';
import { spawnServe } from '../helpers/serve-process.js';

/**
 * Fail fast or serve: a `switchyard serve` that cannot bind a listener exits
 * non-zero with one line naming the address, the config field and the cause,
 * and never starts the analysis (no lease) nor stays alive half-started.
 */

/** Holds a loopback port, as another process would. */
async function occupyPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, server };
}

/** A run that never exits is reported as 'running' after this; the old half-alive gateway did. */
const EXIT_BOUND_MS = 20_000;

describe('serve with a listener that cannot bind', () => {
  const redis = new Redis(inject('redisUrl'));
  afterAll(() => redis.quit());

  const cases = [
    { field: 'proxy.listen', store: 'memory', workers: 1 },
    { field: 'proxy.listen', store: 'redis', workers: 1 },
    { field: 'proxy.listen', store: 'redis', workers: 2 },
    { field: 'admin.listen', store: 'memory', workers: 1 },
    { field: 'admin.listen', store: 'redis', workers: 2 },
  ] as const;

  it.each(cases)('busy $field ($store store, $workers worker(s)): exits 1 with one line and takes no lease', async ({ field, store, workers }) => {
    const busy = await occupyPort();
    const prefix = `lifecycle-start-${field.replace('.', '_')}-${store}-${workers}-${process.pid}`;
    // A short analysis interval, so a gateway that started its loop anyway would have taken the lease by the time it is checked.
    const storeYaml = `${store === 'redis' ? `store: { redis: { url: "${inject('redisUrl')}", keyPrefix: "${prefix}" } }\n` : ''}analysis: { interval: 200ms }`;
    const section = field === 'proxy.listen' ? 'proxy: { listen: "127.0.0.1:0" }' : 'admin:\n  listen: "127.0.0.1:0"';
    const taken = field === 'proxy.listen' ? `proxy: { listen: "127.0.0.1:${busy.port}" }` : `admin:\n  listen: "127.0.0.1:${busy.port}"`;
    const yaml = configYaml({ v1: ['http://127.0.0.1:9'] }, storeYaml).replace(section, taken).replace('log: { level: silent }', 'log: { level: info }');
    const run = spawnServe(yaml, ['--workers', String(workers)]);
    try {
      const exit = await run.exitWithin(EXIT_BOUND_MS);
      // Read after the exit (or the bound): a lease is written by a loop that runs, so it would be there by now.
      const leases = store === 'redis' ? await redis.exists(leaseKey(prefix, 'analysis')) : 0;
      expect({ exit, stderr: run.stderr().trimEnd().split('\n'), leases, loopLogs: run.logs.filter((l) => l.msg === 'analysis lease taken').length }).toEqual({
        exit: 1,
        stderr: [`switchyard: cannot listen on 127.0.0.1:${busy.port} (${field}): address already in use`],
        leases: 0,
        loopLogs: 0,
      });
    } finally {
      await run.stop();
      busy.server.close();
    }
  }, 40_000);
});

describe('serve with proxy.readyWorkers above the workers', () => {
  it('is refused before anything starts, with one line naming the field', async () => {
    const yaml = configYaml({ v1: ['http://127.0.0.1:9'] }).replace('proxy: { listen: "127.0.0.1:0" }', 'proxy: { listen: "127.0.0.1:0", readyWorkers: 3 }');
    const run = spawnServe(yaml, ['--workers', '2']);
    try {
      expect(await run.exitWithin(EXIT_BOUND_MS)).toBe(2);
      const lines = run.stderr().trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^switchyard: proxy\.readyWorkers: 3 is more than the 2 proxy workers/);
    } finally {
      await run.stop();
    }
  }, 40_000);
});
