import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** SIGTERM, then removes the data directory. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash or a pulled cable looks to clients (fail-static tests). */
  kill(): Promise<void>;
  /** Starts the server again on the same port (empty: nothing is persisted). */
  restart(): Promise<void>;
}

export const REDIS_SERVER_MISSING =
  'redis-server not found: install it with "apt-get install redis-server" (or run npm test as root to let pretest install it)';

const READY_TIMEOUT_MS = 5_000;

/** Spawns the Debian `redis-server` on a free loopback port with a throw-away directory, and waits until it answers PING. */
export async function startRedis(): Promise<RedisServer> {
  const binary = findOnPath('redis-server');
  if (binary === null) throw new Error(REDIS_SERVER_MISSING);
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-redis-'));
  // The free port is found by binding and releasing it; another process may grab it in between, so try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      let child = await spawnRedis(binary, port, dir);
      const stopChild = async (signal: NodeJS.Signals) => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill(signal);
          await once(child, 'exit');
        }
      };
      return {
        port,
        url: `redis://127.0.0.1:${port}`,
        stop: async () => {
          await stopChild('SIGTERM');
          await rm(dir, { recursive: true, force: true });
        },
        kill: () => stopChild('SIGKILL'),
        restart: async () => {
          await stopChild('SIGTERM');
          await mkdir(dir, { recursive: true });
          child = await spawnRedis(binary, port, dir);
        },
      };
    } catch (err) {
      lastError = err;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}

function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function spawnRedis(binary: string, port: number, dir: string): Promise<ChildProcess> {
  const logfile = join(dir, 'redis.log');
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', logfile];
  const child = spawn(binary, args, { stdio: 'ignore' });
  const exited = once(child, 'exit').then(async ([code]) => {
    const log = await readFile(logfile, 'utf8').catch(() => '');
    throw new Error(`redis-server on port ${port} exited with ${String(code)}: ${log.trim().split('\n').slice(-3).join(' | ')}`);
  });
  exited.catch(() => undefined); // only the wait below cares; later exits are stop(), kill() or a test's doing
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    while (!(await Promise.race([answersPing(port), exited]))) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return child;
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(500);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
