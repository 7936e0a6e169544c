import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RoutingTable } from '../../src/app/routing-table.js';
import type { ProxyReadiness } from '../../src/http/admin/deps.js';
import { healthRouter } from '../../src/http/admin/routes-health.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { configYaml, startTestGateway } from '../helpers/gateway.js';
import { startServeProcess, workerPids, type ServeProcess } from '../helpers/serve-process.js';

/**
 * /readyz is true only when the proxy listens and, with `serve --workers N`,
 * when at least `proxy.readyWorkers` workers (default: half, rounded up) are
 * alive; it says how many are alive and how many are needed.
 */

interface Readiness {
  readonly ready: boolean;
  readonly workers?: { readonly alive: number; readonly needed: number };
  readonly problems?: readonly string[];
}

async function readyz(adminUrl: string): Promise<{ status: number; body: Readiness }> {
  const res = await fetch(`${adminUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as Readiness };
}

/** Reads /readyz until `ok` accepts it; returns the last answer either way. */
async function readyzUntil(adminUrl: string, ok: (r: { status: number; body: Readiness }) => boolean, timeoutMs = 30_000): Promise<{ status: number; body: Readiness }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await readyz(adminUrl);
    if (ok(answer) || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function clusterYaml(backend: TestBackend, proxyExtra: string): string {
  return configYaml({ v1: [backend.url] })
    .replace('log: { level: silent }', 'log: { level: info }')
    .replace('proxy: { listen: "127.0.0.1:0" }', `proxy: { listen: "127.0.0.1:0"${proxyExtra} }`);
}

describe('readiness with serve --workers 3', () => {
  let backend: TestBackend;
  let byDefault: ServeProcess;
  let allNeeded: ServeProcess;

  beforeAll(async () => {
    backend = await startBackend('v1');
    [byDefault, allNeeded] = await Promise.all([
      startServeProcess(clusterYaml(backend, ''), ['--workers', '3']),
      startServeProcess(clusterYaml(backend, ', readyWorkers: 3'), ['--workers', '3']),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([byDefault?.stop(), allNeeded?.stop()]);
    await backend?.close();
  });

  it('without proxy.readyWorkers two of three must be alive: one death keeps it ready, two make it 503 until they are forked again', async () => {
    expect(await readyz(byDefault.adminUrl)).toEqual({ status: 200, body: { ready: true, store: 'up', workers: { alive: 3, needed: 2 } } });

    const [first] = workerPids(byDefault.child.pid!);
    process.kill(first!, 'SIGKILL');
    await byDefault.waitForLog((l) => l.msg === 'proxy worker died; forking a new one');
    // Two or three alive (the new one may already listen): ready either way.
    const afterOne = await readyz(byDefault.adminUrl);
    expect(afterOne.status).toBe(200);
    expect(afterOne.body.workers?.alive).toBeGreaterThanOrEqual(2);
    expect((await readyzUntil(byDefault.adminUrl, (r) => r.body.workers?.alive === 3)).body.workers).toEqual({ alive: 3, needed: 2 });

    for (const pid of workerPids(byDefault.child.pid!).slice(0, 2)) process.kill(pid, 'SIGKILL');
    const unready = await readyzUntil(byDefault.adminUrl, (r) => r.status === 503);
    expect(unready).toEqual({
      status: 503,
      body: { ready: false, store: 'up', workers: { alive: 1, needed: 2 }, problems: ['proxy workers: 1 alive, 2 needed (proxy.readyWorkers)'] },
    });
    expect(await readyzUntil(byDefault.adminUrl, (r) => r.body.workers?.alive === 3)).toEqual({ status: 200, body: { ready: true, store: 'up', workers: { alive: 3, needed: 2 } } });
  }, 60_000);

  it('with proxy.readyWorkers: 3 a single death makes it 503, naming the counts', async () => {
    expect((await readyz(allNeeded.adminUrl)).body).toEqual({ ready: true, store: 'up', workers: { alive: 3, needed: 3 } });
    const [victim] = workerPids(allNeeded.child.pid!);
    process.kill(victim!, 'SIGKILL');
    const unready = await readyzUntil(allNeeded.adminUrl, (r) => r.status === 503);
    expect(unready.body).toEqual({ ready: false, store: 'up', workers: { alive: 2, needed: 3 }, problems: ['proxy workers: 2 alive, 3 needed (proxy.readyWorkers)'] });
    expect((await readyzUntil(allNeeded.adminUrl, (r) => r.status === 200)).body.workers).toEqual({ alive: 3, needed: 3 });
  }, 60_000);
});

describe('readiness in one process', () => {
  it('is the proxy listening beside the store: ready, with no worker counts', async () => {
    const backend = await startBackend('v1');
    const gateway = await startTestGateway(configYaml({ v1: [backend.url] }));
    try {
      expect(await readyz(gateway.adminUrl)).toEqual({ status: 200, body: { ready: true, store: 'up' } });
    } finally {
      await gateway.close();
      await backend.close();
    }
  });

  it('answers 503 while the proxy does not listen yet', async () => {
    const routing = { health: () => ({ storeUp: true, problems: [], warnings: [] }) } as unknown as RoutingTable;
    let proxy: ProxyReadiness = { listening: false };
    const app = express().use(healthRouter({ routing, proxy: () => proxy }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect(await readyz(url)).toEqual({ status: 503, body: { ready: false, store: 'up', problems: ['proxy: not listening yet'] } });
      proxy = { listening: true };
      expect(await readyz(url)).toEqual({ status: 200, body: { ready: true, store: 'up' } });
    } finally {
      server.close();
    }
  });
});
