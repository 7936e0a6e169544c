import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

type LogEntry = Record<string, unknown>;

/** A `switchyard serve` process, whether or not it got as far as listening. */
export interface ServeRun {
  readonly child: ChildProcess;
  /** Every JSON log line so far. */
  readonly logs: LogEntry[];
  /** Every other line on stdout so far (the banner of `--sample-models`). */
  readonly text: string[];
  /** Everything the process wrote on stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or signal) once the process ended. */
  readonly exited: Promise<number | string>;
  /** The exit code (or signal), or 'running' if the process still runs after `timeoutMs`. */
  exitWithin(timeoutMs: number): Promise<number | string>;
  /** The first log line (past or future) that `match` accepts; rejects if the process exits first or after `timeoutMs`. */
  waitForLog(match: (entry: LogEntry) => boolean, timeoutMs?: number): Promise<LogEntry>;
  /** SIGKILL if still running, then waits for the exit. */
  stop(): Promise<void>;
}

export interface ServeProcess extends ServeRun {
  readonly proxyUrl: string;
  readonly adminUrl: string;
}

/**
 * Spawns `switchyard serve` as operators run it, in a real process (TypeScript
 * through tsx), so signals, exit codes and node:cluster behave as in production;
 * `env` is added to the test runner's environment (secrets the config names as `${VAR}`).
 */
export function spawnServe(yaml: string, args: readonly string[] = [], env: Readonly<Record<string, string>> = {}): ServeRun {
  const dir = mkdtempSync(join(tmpdir(), 'sy-serve-'));
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, yaml);
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--config', configPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const logs: LogEntry[] = [];
  const text: string[] = [];
  const waiters = new Set<(entry: LogEntry) => void>();
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  // 'close' rather than 'exit': by then every line the process (and its workers, which share its stdout) wrote has been read.
  const exited = new Promise<number | string>((resolve) => child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  exited.finally(() => rmSync(dir, { recursive: true, force: true })).catch(() => undefined);
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let entry: LogEntry;
    try {
      entry = JSON.parse(line) as LogEntry;
    } catch {
      text.push(line);
      return;
    }
    logs.push(entry);
    for (const waiter of waiters) waiter(entry);
  });
  const waitForLog = (match: (entry: LogEntry) => boolean, timeoutMs = 30_000) =>
    new Promise<LogEntry>((resolve, reject) => {
      const seen = logs.find(match);
      if (seen !== undefined) {
        resolve(seen);
        return;
      }
      const waiter = (entry: LogEntry) => {
        if (!match(entry)) return;
        waiters.delete(waiter);
        clearTimeout(timer);
        resolve(entry);
      };
      waiters.add(waiter);
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`no such log line within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`));
      }, timeoutMs);
      void exited.then((code) => {
        if (!waiters.delete(waiter)) return;
        clearTimeout(timer);
        reject(new Error(`serve exited (${code}) before the log line: ${stderr.slice(-2000)}`));
      });
    });
  return {
    child,
    logs,
    text,
    stderr: () => stderr,
    exited,
    exitWithin: (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const running = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('running'), timeoutMs)));
      return Promise.race([exited, running]).finally(() => clearTimeout(timer));
    },
    waitForLog,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** `spawnServe`, resolved once the gateway logged that it listens. */
export async function startServeProcess(yaml: string, args: readonly string[] = [], env: Readonly<Record<string, string>> = {}): Promise<ServeProcess> {
  const run = spawnServe(yaml, args, env);
  const ready = await run.waitForLog((entry) => entry.msg === 'switchyard listening').catch(async (err: unknown) => {
    await run.stop();
    throw err;
  });
  return { ...run, proxyUrl: String(ready.proxy), adminUrl: String(ready.admin) };
}

/** The pids of the proxy workers a `serve --workers N` primary forked, read from `ps`. */
export function workerPids(primary: number): number[] {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(primary)], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes('worker-main'))
    .map((l) => Number(l.trim().split(' ')[0]));
}
