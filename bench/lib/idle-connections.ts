import { fork } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { own, stopTree } from './proc-tree.js';

/**
 * Many idle keep-alive client connections held open against a proxy, from a child
 * process of their own (so the bench's process and its file limit stay out of it).
 * Each connection sends one request and reads its whole answer first, so every one is
 * a real keep-alive connection the proxy has parsed a request on and must keep, not a
 * bare TCP handshake. Raw sockets: the client side costs a few KB per connection.
 */

export interface IdleOpened {
  readonly opened: number;
  readonly failed: number;
  readonly ms: number;
  readonly firstError: string | null;
}

export interface IdleHold {
  readonly opened: IdleOpened;
  /** How many of the connections are still open (a proxy that dropped some shows here). */
  alive(): Promise<number>;
  close(): Promise<void>;
}

interface OpenRequest {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly count: number;
  readonly concurrency: number;
  readonly keyHeader: string;
}

/** Opens `count` connections to `url` (at most `concurrency` being set up at once) and holds them. */
export async function holdIdleConnections(url: string, count: number, keyHeader: string, concurrency = 200): Promise<IdleHold> {
  const target = new URL(url);
  const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, BENCH_IDLE_CHILD: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  own(child);
  const ask = <T>(msg: object, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('idle-connections child did not answer')), timeoutMs);
      child.once('message', (answer: T) => {
        clearTimeout(timer);
        resolve(answer);
      });
      child.send(msg);
    });
  const request: OpenRequest = { host: target.hostname, port: Number(target.port), path: target.pathname, count, concurrency, keyHeader };
  try {
    const opened = await ask<IdleOpened>({ type: 'open', ...request }, 120_000);
    return {
      opened,
      alive: async () => (await ask<{ alive: number }>({ type: 'alive' }, 10_000)).alive,
      close: () => stopTree(child, 'SIGTERM', 5_000),
    };
  } catch (err) {
    await stopTree(child, 'SIGKILL', 1_000);
    throw err;
  }
}

/** Child side: one request per connection, then keep the socket and count it while it stays open. */
function openOne(req: OpenRequest, i: number, sockets: Set<Socket>): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: req.host, port: req.port });
    let got = Buffer.alloc(0);
    let done = false;
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(30_000, () => fail(new Error('timed out')));
    socket.on('error', fail);
    socket.on('close', () => {
      sockets.delete(socket);
      fail(new Error('closed before the answer'));
    });
    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      got = Buffer.concat([got, chunk]);
      const end = got.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = got.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? NaN);
      if (!head.startsWith('HTTP/1.1 200')) return fail(new Error(head.split('\r\n')[0] ?? 'bad answer'));
      if (!Number.isFinite(length)) return fail(new Error('answer without content-length'));
      if (got.length < end + 4 + length) return;
      done = true;
      got = Buffer.alloc(0);
      socket.setTimeout(0);
      sockets.add(socket);
      resolve();
    });
    socket.write(`GET ${req.path} HTTP/1.1\r\nHost: ${req.host}:${req.port}\r\n${req.keyHeader}: idle-${i}\r\n\r\n`);
  });
}

async function childMain(): Promise<void> {
  const sockets = new Set<Socket>();
  process.on('message', async (msg: { type: string } & OpenRequest) => {
    if (msg.type === 'alive') return process.send?.({ alive: sockets.size });
    if (msg.type !== 'open') return;
    const from = Date.now();
    let next = 0;
    let failed = 0;
    let firstError: string | null = null;
    const lane = async () => {
      while (next < msg.count) {
        const i = next++;
        await openOne(msg, i, sockets).catch((err: Error) => {
          failed++;
          firstError ??= err.message;
        });
      }
    };
    await Promise.all(Array.from({ length: msg.concurrency }, lane));
    process.send?.({ opened: sockets.size, failed, ms: Date.now() - from, firstError } satisfies IdleOpened);
  });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

if (process.env.BENCH_IDLE_CHILD === '1') await childMain();
