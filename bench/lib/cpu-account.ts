import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * Linux-only accounting of where the machine's CPU went during a run, to flag runs
 * disturbed by other work on a shared host. Returns null figures elsewhere.
 */
interface Sample {
  readonly at: number;
  /** Busy jiffies of all CPUs (/proc/stat). */
  readonly busy: number;
  /** This process plus its reaped children (wrk), in jiffies (/proc/self/stat). */
  readonly selfAndReaped: number;
}

const HZ = 100;

function sample(): Sample | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    // user nice system idle iowait irq softirq steal
    const busy = (cpu[0] ?? 0) + (cpu[1] ?? 0) + (cpu[2] ?? 0) + (cpu[5] ?? 0) + (cpu[6] ?? 0) + (cpu[7] ?? 0);
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    // fields[11..14] are utime stime cutime cstime (stat fields 14..17)
    const selfAndReaped = (fields[11] ?? 0) + (fields[12] ?? 0) + (fields[13] ?? 0) + (fields[14] ?? 0);
    return { at: Date.now(), busy, selfAndReaped };
  } catch {
    return null;
  }
}

export interface CpuShare {
  /** Wall-clock span in ms. */
  readonly wallMs: number;
  /** All-CPU busy time over the span, ms. */
  readonly busyMs: number;
  /** The bench's own share: orchestrator and wrk (reaped) plus the children's reported CPU. */
  readonly oursMs: number;
  /** Busy time not spent by the bench's processes, as a share of the machine's capacity (0..1). */
  readonly foreign: number;
}

export function startCpuAccount(): { stop(childrenCpuMs: number): CpuShare | null } {
  const from = sample();
  return {
    stop(childrenCpuMs: number) {
      const to = sample();
      if (from === null || to === null) return null;
      const wallMs = to.at - from.at;
      const busyMs = ((to.busy - from.busy) * 1000) / HZ;
      const oursMs = ((to.selfAndReaped - from.selfAndReaped) * 1000) / HZ + childrenCpuMs;
      const foreign = Math.max(0, busyMs - oursMs) / (wallMs * availableParallelism());
      return { wallMs, busyMs, oursMs, foreign };
    },
  };
}

/**
 * Waits (up to `maxMs`) until the machine is quiet: all-CPU busy share below `threshold`
 * over half-second windows while the bench itself idles. Returns the last busy share seen.
 */
export async function waitForQuiet(threshold: number, maxMs: number): Promise<number | null> {
  const deadline = Date.now() + maxMs;
  let share: number | null = null;
  do {
    const from = sample();
    await new Promise((r) => setTimeout(r, 500));
    const to = sample();
    if (from === null || to === null) return null;
    share = (((to.busy - from.busy) * 1000) / HZ) / ((to.at - from.at) * availableParallelism());
    if (share < threshold) return share;
  } while (Date.now() < deadline);
  return share;
}

/**
 * A fixed CPU-bound loop, timed: a speed index of the machine right now (a shared or
 * throttled VM can be several times slower from one minute to the next).
 */
export function cpuProbeMs(): number {
  const from = process.hrtime.bigint();
  let x = 0;
  for (let i = 0; i < 20_000_000; i++) x += i & 7;
  if (x < 0) console.log(x);
  return Number(process.hrtime.bigint() - from) / 1e6;
}
