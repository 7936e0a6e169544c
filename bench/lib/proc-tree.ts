import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Memory and CPU of a whole process tree (Linux /proc): a proxy that forks workers
 * (node:cluster, nginx master + workers) is measured as the sum of its processes,
 * read from outside so that nginx and Switchyard are measured the same way. And the
 * one place that stops every process tree the bench started, also on error or Ctrl-C.
 */

const HZ = 100;

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Fields after the command name of /proc/PID/stat (state is [0], ppid [1], utime [11], stime [12]). */
function statFields(pid: number): string[] | null {
  const stat = read(`/proc/${pid}/stat`);
  return stat === null ? null : stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The root and all its descendants that are alive now. */
export function treePids(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [root];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = Number(statFields(Number(name))?.[1]);
    if (!Number.isFinite(ppid)) continue;
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

function statusKb(pid: number, field: string): number {
  const status = read(`/proc/${pid}/status`) ?? '';
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match === null ? 0 : Number(match[1]);
}

/** Sum of resident memory of the tree, bytes (shared pages count once per process, as `ps` shows them). */
export function treeRssBytes(root: number): number {
  return treeRssEach(root).reduce((a, b) => a + b, 0);
}

/** Proportional set size of the tree, bytes: shared pages divided among the processes sharing them. */
export function treePssBytes(root: number): number {
  return treePids(root).reduce((sum, pid) => {
    const match = /^Pss:\s+(\d+) kB/m.exec(read(`/proc/${pid}/smaps_rollup`) ?? '');
    return sum + (match === null ? 0 : Number(match[1]) * 1024);
  }, 0);
}

/** User + system CPU of the processes of the tree alive now, ms. */
export function treeCpuMs(root: number): number {
  return treePids(root).reduce((sum, pid) => {
    const f = statFields(pid);
    return sum + (f === null ? 0 : ((Number(f[11]) + Number(f[12])) * 1000) / HZ);
  }, 0);
}

/** RSS of each process of the tree, bytes. */
export function treeRssEach(root: number): number[] {
  return treePids(root).map((pid) => statusKb(pid, 'VmRSS') * 1024);
}

/**
 * Samples the tree's RSS every `everyMs` until stopped; reports the peak of the sum,
 * the peak of the largest single process and the last sum.
 */
export function sampleTreeRss(root: number, everyMs = 250): { stop(): { peakBytes: number; peakProcessBytes: number; lastBytes: number } } {
  let peakBytes = 0;
  let peakProcessBytes = 0;
  let lastBytes = 0;
  const sample = () => {
    const each = treeRssEach(root);
    lastBytes = each.reduce((a, b) => a + b, 0);
    peakBytes = Math.max(peakBytes, lastBytes);
    peakProcessBytes = Math.max(peakProcessBytes, ...each);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { peakBytes, peakProcessBytes, lastBytes };
    },
  };
}

/** Process trees started by the bench, stopped on exit whatever the cause. */
const owned = new Set<ChildProcess>();

function killAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Registers a started process so that its tree is stopped on exit, error or Ctrl-C. */
export function own(proc: ChildProcess): void {
  owned.add(proc);
  proc.once('exit', () => owned.delete(proc));
}

/**
 * What `starting` resolves to, or a rejection naming the process if it exits
 * first: a gateway that fails to start says so at once instead of at the
 * end of a readiness timeout.
 */
export function unlessExited<T>(proc: ChildProcess, what: string, starting: Promise<T>): Promise<T> {
  const exited = new Promise<never>((_, reject) => proc.once('exit', (code, signal) => reject(new Error(`${what} exited with ${String(code ?? signal)}`))));
  exited.catch(() => undefined); // only the start waits on it
  return Promise.race([starting, exited]);
}

/**
 * Sends `signal` to the root and waits for it to exit; after `graceMs`, or if any of
 * its descendants outlive it, SIGKILL to every process the tree had.
 */
export async function stopTree(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
  const pid = proc.pid;
  if (pid === undefined) return;
  const pids = treePids(pid);
  if (proc.exitCode === null && proc.signalCode === null) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        killAll(pids, 'SIGKILL');
        resolve();
      }, graceMs);
      proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      proc.kill(signal);
    });
  }
  // Workers whose primary is gone must not linger (their pids were noted before the stop).
  await new Promise((r) => setTimeout(r, 100));
  killAll(pids.filter((p) => p !== pid && statFields(p) !== null && statFields(p)?.[0] !== 'Z'), 'SIGKILL');
  owned.delete(proc);
}

let handlersInstalled = false;

/** Once per run: Ctrl-C and SIGTERM stop every owned tree before exiting; a plain exit kills what is left. */
export function stopOwnedOnExit(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping the processes the bench started…`);
    // The run loses its helpers mid-measurement now (a Ctrl-C reaches them too): no stack traces while stopping.
    process.on('uncaughtException', () => undefined);
    process.on('unhandledRejection', () => undefined);
    void Promise.all([...owned].map((p) => stopTree(p, 'SIGTERM', 3_000))).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Whatever is left (wrk, the backend, trees not stopped yet) descends from this process.
  process.once('exit', () => killAll(treePids(process.pid).filter((pid) => pid !== process.pid), 'SIGKILL'));
}
