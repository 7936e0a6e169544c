import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/app/logger.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend } from '../helpers/backends.js';
import { configYaml, startTestGateway } from '../helpers/gateway.js';

/**
 * Issue 13, hole 6: timeouts mean what they say. `timeouts.request` counts from
 * the moment the whole request was sent upstream to the answer's headers;
 * `timeouts.idle` is the longest gap between two chunks of the client's upload
 * (408, not the version's failure) or of the answer (cut, the version's).
 */

const SERVICE = 'fraud-scorer';
/** `timeouts.idle` in these tests, under the configured `timeouts.request` of 1 s. */
const IDLE = '300ms';
/** An idle timeout no gap of a paced upload comes near, however busy the machine. */
const GENEROUS_IDLE = '10s';
let cleanup: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

interface Logged {
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

function recordingLogger(lines: Logged[]): Logger {
  const push = (obj: object, msg: string) => lines.push({ obj: obj as Record<string, unknown>, msg });
  return { info: push, warn: push, error: push };
}

async function gateway(versions: Record<string, string[]>, log?: Logger, idle = IDLE): Promise<Gateway> {
  const yaml = configYaml(versions).replace('request: 1s }', `request: 1s, idle: ${idle} }`);
  const g = await startTestGateway(yaml, log === undefined ? {} : { log });
  cleanup.push(() => g.close());
  return g;
}

async function metric(g: Gateway, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${g.adminUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) && line.includes(labels)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

async function windows(g: Gateway, version: string): Promise<{ requests: number; errors: number }> {
  await g.flusher.flush();
  const now = Date.now();
  const slices = (await g.store.readWindows(SERVICE, now - 60_000, now + 60_000, 1000)).filter((w) => w.version === version);
  return { requests: slices.reduce((n, w) => n + w.arm.requests, 0), errors: slices.reduce((n, w) => n + w.arm.errors, 0) };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function backend(name: string) {
  const b = await startBackend(name);
  cleanup.push(() => b.close());
  return b;
}

/** A backend whose answers are written by `answer`, on port 0. */
async function scripted(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('timeouts.request', () => {
  it('starts once the whole request is upstream: an upload slower than the request timeout is answered', async () => {
    const v1 = await backend('v1');
    const g = await gateway({ v1: [v1.url] }, undefined, GENEROUS_IDLE);
    // Eight pieces, each well inside the idle timeout, together longer than the 1 s request timeout.
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        for (let i = 0; i < 8; i++) {
          controller.enqueue(new Uint8Array(1024).fill(97));
          await delay(200);
        }
        controller.close();
      },
    });
    const res = await fetch(`${g.proxyUrl}/fraud/upload`, { method: 'POST', body, duplex: 'half', headers: { 'x-user-id': 'u1' } } as RequestInit);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { body: string }).body.length).toBe(8 * 1024);
    expect(await metric(g, 'switchyard_timeouts_total', 'version="v1"')).toBe(0);
  });

  it('answers 504 when the answer has no headers in time, counted as a request timeout of the version', async () => {
    const v1 = await backend('v1');
    const g = await gateway({ v1: [v1.url] });
    const res = await fetch(`${g.proxyUrl}/fraud/hang`, { headers: { 'x-user-id': 'u1' } });
    expect(res.status).toBe(504);
    expect(await metric(g, 'switchyard_timeouts_total', 'version="v1",kind="request"')).toBe(1);
    expect(await metric(g, 'switchyard_upstream_errors_total', 'version="v1",kind="timeout"')).toBe(1);
  });
});

describe('timeouts.idle', () => {
  it('answers 408 to an upload that stalls, and does not count it against the version', async () => {
    const v1 = await backend('v1');
    const lines: Logged[] = [];
    const g = await gateway({ v1: [v1.url] }, recordingLogger(lines));
    const port = Number(new URL(g.proxyUrl).port);
    // A tenth of the announced body, then nothing.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write('POST /fraud/score HTTP/1.1\r\nHost: gw\r\nx-user-id: u1\r\nx-request-id: stalled-1\r\nContent-Length: 1000\r\n\r\n' + 'a'.repeat(100)),
      );
      let data = '';
      socket.setTimeout(5_000, () => socket.destroy(new Error(`no answer to a stalled upload: ${data}`)));
      socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', (hadError) => {
        if (!hadError) resolve(data);
      });
    });
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect(head.toLowerCase()).toContain('connection: close');
    expect(JSON.parse(body)).toMatchObject({ code: 'SY_ERR_REQUEST_TIMEOUT', requestId: 'stalled-1', service: SERVICE, version: 'v1' });
    expect(await metric(g, 'switchyard_timeouts_total', 'version="v1",kind="upload_idle"')).toBe(1);
    expect(await metric(g, 'switchyard_upstream_errors_total', 'version="v1"')).toBe(0);
    expect(await metric(g, 'switchyard_requests_total', 'version="v1",status_class="4xx"')).toBe(1);
    expect(await windows(g, 'v1')).toEqual({ requests: 1, errors: 0 });
    expect(lines.some((l) => l.obj.requestId === 'stalled-1' && l.msg.includes('upload stalled'))).toBe(true);
  });

  it('answers 504 when the version stops reading the upload, a timeout of the version and not the client', async () => {
    // Takes the connection and never reads from it: the gateway's pipe to it fills up and waits.
    const silent = createNetServer((socket) => socket.pause());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => silent.close(resolve)));
    const sockets = new Set<Socket>();
    silent.on('connection', (socket) => sockets.add(socket));
    cleanup.push(async () => {
      for (const socket of sockets) socket.destroy();
    });
    const g = await gateway({ v1: [`http://127.0.0.1:${(silent.address() as AddressInfo).port}`] });
    const port = Number(new URL(g.proxyUrl).port);
    const statusLine = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      const piece = Buffer.alloc(64 * 1024, 97);
      let left = 1024;
      const pump = (): void => {
        while (left-- > 0) if (!socket.write(piece)) return void socket.once('drain', pump);
      };
      socket.on('connect', () => {
        socket.write(`POST /fraud/upload HTTP/1.1\r\nHost: gw\r\nx-user-id: u1\r\nContent-Length: ${1024 * piece.length}\r\n\r\n`);
        pump();
      });
      socket.setTimeout(5_000, () => socket.destroy(new Error('no answer while the version did not read the upload')));
      socket.once('data', (chunk: Buffer) => {
        resolve(chunk.toString('latin1').split('\r\n')[0] ?? '');
        socket.destroy();
      });
      socket.on('error', reject);
    });
    expect(statusLine).toBe('HTTP/1.1 504 Gateway Timeout');
    expect(await metric(g, 'switchyard_timeouts_total', 'version="v1",kind="request"')).toBe(1);
    expect(await metric(g, 'switchyard_timeouts_total', 'version="v1",kind="upload_idle"')).toBe(0);
    expect(await metric(g, 'switchyard_upstream_errors_total', 'version="v1",kind="timeout"')).toBe(1);
  });

  it('cuts an answer that stalls after its headers, logs it, and counts it as a timeout of the version', async () => {
    const url = await scripted((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
    });
    const lines: Logged[] = [];
    const g = await gateway({ v1: [url] }, recordingLogger(lines));
    const ended = await new Promise<{ status: number; complete: boolean; received: string }>((resolve, reject) => {
      const req = request(`${g.proxyUrl}/fraud/stream`, { headers: { 'x-user-id': 'u1', 'x-request-id': 'stall-1' } }, (res) => {
        let received = '';
        res.on('data', (c: Buffer) => (received += c.toString('utf8')));
        res.on('error', () => undefined);
        res.on('close', () => resolve({ status: res.statusCode ?? 0, complete: res.complete, received }));
      });
      req.setTimeout(5_000, () => req.destroy(new Error('the stalled answer was never cut')));
      req.on('error', reject);
      req.end();
    });
    expect(ended).toEqual({ status: 200, complete: false, received: 'data: first\n\n' });
    await expect.poll(() => metric(g, 'switchyard_timeouts_total', 'version="v1",kind="response_idle"')).toBe(1);
    expect(await metric(g, 'switchyard_upstream_errors_total', 'version="v1",kind="timeout"')).toBe(1);
    expect(await windows(g, 'v1')).toEqual({ requests: 1, errors: 1 });
    expect(lines.some((l) => l.obj.requestId === 'stall-1' && l.obj.failure === 'response_idle')).toBe(true);
  });

  it('does not cut an answer the client is slow to read', async () => {
    const size = 16 * 1024 * 1024;
    const url = await scripted((_req, res) => res.end(Buffer.alloc(size, 98)));
    const g = await gateway({ v1: [url] });
    const received = await new Promise<number>((resolve, reject) => {
      const req = request(`${g.proxyUrl}/fraud/big`, { headers: { 'x-user-id': 'u1' } }, (res) => {
        // Not a byte read for several idle timeouts: the gateway waits on the client, not on the version.
        res.pause();
        let bytes = 0;
        setTimeout(() => {
          res.on('data', (c: Buffer) => (bytes += c.length));
          res.on('end', () => resolve(bytes));
          res.resume();
        }, 1_200);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    expect(received).toBe(size);
    expect(await metric(g, 'switchyard_timeouts_total', 'version="v1"')).toBe(0);
  });
});
