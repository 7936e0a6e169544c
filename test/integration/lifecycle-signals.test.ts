import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { configYaml } from '../helpers/gateway.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';

/**
 * Supervisors and people repeat signals: a second SIGTERM/SIGINT during the
 * drain is logged and ignored, so the requests in flight still finish; a third
 * forces the exit and says so. Each test runs the real `switchyard serve`.
 */

/** A model server that holds every request until the test releases them, so they stay in flight through the signals. */
interface HeldBackend {
  readonly url: string;
  held(): number;
  release(): void;
  close(): Promise<void>;
}

async function startHeldBackend(): Promise<HeldBackend> {
  const waiting: Array<() => void> = [];
  let released = false;
  const server: Server = createServer((req, res) => {
    req.resume();
    const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"model":"v1"}');
    if (released) answer();
    else waiting.push(answer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => waiting.length,
    release: () => {
      released = true;
      for (const answer of waiting.splice(0)) answer();
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** One request on its own connection: its status, or 'reset' when the connection died without an answer. */
function send(base: string, user: string): Promise<number | 'reset'> {
  return new Promise((resolve) => {
    const req = request(`${base}/fraud/score`, { headers: { 'x-user-id': user }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve('reset'));
    });
    req.on('error', () => resolve('reset'));
    req.end();
  });
}

async function until(done: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const IN_FLIGHT = 20;

function gatewayYaml(backend: HeldBackend, drainTimeout: string): string {
  return configYaml({ v1: [backend.url] })
    .replace('log: { level: silent }', 'log: { level: info }')
    .replace('proxy: { listen: "127.0.0.1:0" }', `proxy: { listen: "127.0.0.1:0", drainDelay: 0s, drainTimeout: ${drainTimeout} }`)
    .replace('timeouts: { connect: 500ms, request: 1s }', 'timeouts: { connect: 500ms, request: 60s }');
}

const message = (entry: Record<string, unknown>) => String(entry.msg);

describe.each([1, 2])('serve --workers %i under repeated signals', (workers) => {
  let backend: HeldBackend | undefined;
  let gw: ServeProcess | undefined;

  afterEach(async () => {
    await gw?.stop();
    await backend?.close();
  });

  /** Starts the gateway, puts IN_FLIGHT requests in flight, sends the first signal and waits until the drain runs. */
  async function drainWithRequestsInFlight(drainTimeout: string): Promise<{ gw: ServeProcess; backend: HeldBackend; answers: Promise<Array<number | 'reset'>> }> {
    backend = await startHeldBackend();
    gw = await startServeProcess(gatewayYaml(backend, drainTimeout), ['--workers', String(workers)]);
    const answers = Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => send(gw!.proxyUrl, `u${i}`)));
    const held = backend;
    await until(() => held.held() === IN_FLIGHT, 'every request reaching the backend');
    gw.child.kill('SIGTERM');
    await gw.waitForLog((l) => message(l).startsWith('draining:'));
    return { gw, backend, answers };
  }

  it('a second SIGTERM during the drain is logged and ignored: every request in flight finishes and the process exits 0', async () => {
    const run = await drainWithRequestsInFlight('30s');
    run.gw.child.kill('SIGTERM');
    await run.gw.waitForLog((l) => message(l).startsWith('second signal during the drain: ignored'));
    expect(run.gw.child.exitCode).toBeNull();

    run.backend.release();
    expect(await run.answers).toEqual(Array(IN_FLIGHT).fill(200));
    expect(await run.gw.exitWithin(20_000)).toBe(0);
    expect(run.gw.logs.some((l) => l.msg === 'drained and closed')).toBe(true);
    expect(run.gw.logs.filter((l) => message(l).startsWith('drain timeout'))).toEqual([]);
  }, 60_000);

  it('a third signal forces a non-zero exit and says so; the requests still held are cut', async () => {
    const run = await drainWithRequestsInFlight('30s');
    run.gw.child.kill('SIGINT');
    await run.gw.waitForLog((l) => message(l).startsWith('second signal during the drain'));
    run.gw.child.kill('SIGINT');
    // 128 + SIGINT, as a shell reports a process that Ctrl-C ended.
    expect(await run.gw.exitWithin(20_000)).toBe(130);
    const forced = run.gw.logs.filter((l) => message(l).startsWith('third signal during the drain: forcing the exit'));
    expect(forced.map((l) => l.signal)).toEqual(['SIGINT']);
    expect(await run.answers).toEqual(Array(IN_FLIGHT).fill('reset'));
  }, 60_000);

  it('a drain that reaches its timeout logs how many requests it cut, then exits 0', async () => {
    const run = await drainWithRequestsInFlight('1s');
    expect(await run.gw.exitWithin(20_000)).toBe(0);
    const cut = run.gw.logs.filter((l) => message(l).startsWith('drain timeout')).reduce((sum, l) => sum + Number(l.cut), 0);
    expect(cut).toBe(IN_FLIGHT);
    expect(await run.answers).toEqual(Array(IN_FLIGHT).fill('reset'));
  }, 60_000);
});
