import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Store } from '../../src/app/store.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { configYaml, startTestGateway } from '../helpers/gateway.js';

/**
 * The regression guard of the request path (issue 7), counted, never timed:
 * upstream connections are kept alive and reused, and no request reaches the store.
 */

interface CountingBackend {
  readonly url: string;
  connections: number;
  requests: number;
  readonly server: Server;
}

async function countingBackend(name: string): Promise<CountingBackend> {
  const backend = { connections: 0, requests: 0 } as CountingBackend;
  const server = createServer((req, res) => {
    backend.requests++;
    req.resume();
    req.on('end', () => res.end(JSON.stringify({ version: name })));
  });
  server.on('connection', () => backend.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(backend, { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

const CLIENT_CONNECTIONS = 10;
const REQUESTS = 1000;

describe('request path guard', () => {
  let v1: CountingBackend;
  let v2: CountingBackend;
  let gateway: Gateway;

  beforeAll(async () => {
    v1 = await countingBackend('v1');
    v2 = await countingBackend('v2');
    // Background work that touches the store on a timer is pushed out of the measured minute.
    const analysis = 'analysis: { interval: 1h, flush: 1h, settle: 1h, retention: 3h }';
    gateway = await startTestGateway(configYaml({ v1: [v1.url], v2: [v2.url] }).replace('log: { level: silent }', `log: { level: silent }\n${analysis}`), {
      resyncMs: 3_600_000,
    });
    await gateway.commands.run('fraud-scorer', { type: 'start', candidate: 'v2' }, { actor: 'test' });
    await gateway.commands.run('fraud-scorer', { type: 'set-weight', weightBp: 1000 }, { actor: 'test' });
  });

  afterAll(async () => {
    await gateway?.close();
    for (const b of [v1, v2]) b?.server.close();
  });

  it(`sends ${REQUESTS} requests over keep-alive upstream connections and never touches the store`, async () => {
    const store = gateway.store as unknown as Record<string, unknown>;
    const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(gateway.store) as object).filter(
      (name) => name !== 'constructor' && typeof store[name] === 'function',
    ) as Array<keyof Store>;
    const spies = methods.map((name) => vi.spyOn(gateway.store, name as 'getState'));

    const agent = new Agent({ keepAlive: true, maxSockets: CLIENT_CONNECTIONS });
    const versions = new Map<string, number>();
    let next = 0;
    const worker = async () => {
      while (next < REQUESTS) {
        const user = `user-${next++}`;
        const version = await new Promise<string>((resolve, reject) => {
          request(`${gateway.proxyUrl}/fraud/score`, { agent, headers: { 'x-user-id': user } }, (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? resolve(String(res.headers['x-model-version'])) : reject(new Error(`status ${res.statusCode}`))));
          })
            .on('error', reject)
            .end();
        });
        versions.set(version, (versions.get(version) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: CLIENT_CONNECTIONS }, worker));
    agent.destroy();

    expect(v1.requests + v2.requests).toBe(REQUESTS);
    expect(versions.get('v2')).toBeGreaterThan(0);
    // At most one upstream connection per concurrent request, per version: connections are reused, not opened per request.
    expect(v1.connections).toBeLessThanOrEqual(CLIENT_CONNECTIONS);
    expect(v2.connections).toBeLessThanOrEqual(CLIENT_CONNECTIONS);
    const storeCalls = Object.fromEntries(methods.map((name, i) => [name, spies[i]!.mock.calls.length]).filter(([, n]) => n !== 0));
    expect(storeCalls).toEqual({});
  });
});
