import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly proxyUrl: string;
  readonly adminUrl: string;
  /** Every JSON log line so far. */
  readonly logs: Array<Record<string, unknown>>;
  /** Resolves with the exit code (or signal) once the process ended. */
  readonly exited: Promise<number | string>;
  stop(): Promise<void>;
}

/**
 * `switchyard serve` as operators run it, in a real process (TypeScript through
 * tsx), so signals, exit codes and node:cluster behave as in production.
 */
export async function startServeProcess(yaml: string, args: readonly string[] = []): Promise<ServeProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-serve-'));
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, yaml);
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--config', configPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  exited.finally(() => rmSync(dir, { recursive: true, force: true })).catch(() => undefined);
  const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.msg === 'switchyard listening') resolve(entry);
    });
    void exited.then((code) => reject(new Error(`serve exited (${code}) before listening: ${stderr.slice(-2000)}`)));
    setTimeout(() => reject(new Error(`serve did not listen within 30 s: ${stderr.slice(-2000)}`)), 30_000).unref();
  });
  const ready = await listening;
  return {
    child,
    proxyUrl: String(ready.proxy),
    adminUrl: String(ready.admin),
    logs,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
