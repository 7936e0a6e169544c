import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './http-probe.js';
import { own, stopTree } from './proc-tree.js';

/**
 * A throw-away Debian `redis-server` for a bench: a free loopback port, its
 * own temporary directory, no persistence; stopped (and its directory
 * removed) by `stop`, or with the bench's other processes on exit.
 */
export interface BenchRedis {
  readonly url: string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 5_000;

/** The redis-server binary on PATH, or null. */
export function redisServerBinary(): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

export async function startRedis(binary: string): Promise<BenchRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-bench-redis-'));
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', join(dir, 'redis.log')];
  const proc = spawn(binary, args, { stdio: 'ignore' });
  own(proc);
  const stop = async () => {
    await stopTree(proc);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await answersPing(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms (exit ${String(proc.exitCode)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { url: `redis://127.0.0.1:${port}`, stop };
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(500);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (!reply.includes('\r\n')) return;
      socket.destroy();
      resolve(reply.startsWith('+PONG'));
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
