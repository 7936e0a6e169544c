import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, pollUntil } from '../lib/http-probe.js';
import { own, stopTree, unlessExited } from '../lib/proc-tree.js';
import { CLI } from '../lib/switchyard.js';

/**
 * One replica of the fleet: `switchyard serve --config FILE` in its own process
 * (one proxy process, no workers), with its own ports and snapshot folder, its
 * log in `<runDir>/<name>.log`. Ready when its `/readyz` passes, as a
 * Kubernetes readiness probe sees it.
 */
export interface Replica {
  readonly name: string;
  readonly proc: ChildProcess;
  /** `http://127.0.0.1:PORT` of the proxy port. */
  readonly proxyUrl: string;
  readonly adminUrl: string;
  /** From spawning the process to its first passing `/readyz`. */
  readonly startMs: number;
  /** SIGTERM (the gateway drains), resolved once the process has exited; answers how long that took. */
  terminate(): Promise<number>;
  /** SIGKILL: no drain, no lease released, nothing flushed. */
  kill(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;
/** Longer than the fleet config's drainDelay + drainTimeout. */
const TERMINATE_GRACE_MS = 15_000;

export async function startReplica(name: string, configPath: string, runDir: string): Promise<Replica> {
  const [proxyPort, adminPort] = [await freePort(), await freePort()];
  const snapshotDir = join(runDir, name);
  mkdirSync(snapshotDir, { recursive: true });
  const log = openSync(join(runDir, `${name}.log`), 'a');
  const env = { ...process.env, PROXY_PORT: String(proxyPort), ADMIN_PORT: String(adminPort), SNAPSHOT_DIR: snapshotDir };
  const spawnedAt = performance.now();
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', configPath], { env, stdio: ['ignore', log, log] });
  closeSync(log);
  own(proc);
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  try {
    await unlessExited(proc, `replica ${name} (log: ${join(runDir, `${name}.log`)})`, pollUntil(`${adminUrl}/readyz`, (r) => r.ok, READY_TIMEOUT_MS));
  } catch (err) {
    await stopTree(proc, 'SIGKILL');
    throw err;
  }
  return {
    name,
    proc,
    proxyUrl: `http://127.0.0.1:${proxyPort}`,
    adminUrl,
    startMs: performance.now() - spawnedAt,
    terminate: async () => {
      const from = performance.now();
      await stopTree(proc, 'SIGTERM', TERMINATE_GRACE_MS);
      return performance.now() - from;
    },
    kill: () => stopTree(proc, 'SIGKILL'),
  };
}

/** `count` replicas started side by side, named `<prefix>0..`; if one cannot start, the others are stopped. */
export async function startReplicas(count: number, prefix: string, configPath: string, runDir: string): Promise<Replica[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => startReplica(`${prefix}${i}`, configPath, runDir)));
  const replicas = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(replicas.map((r) => r.kill()));
    throw failed.reason;
  }
  return replicas;
}
