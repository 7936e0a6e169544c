import { waitForQuiet, type CpuShare } from './cpu-account.js';

/** A run during which other processes used more than this share of the machine is measured again once. */
export const DISTURBED = 0.1;

export const pct = (x: number | undefined): string => (x === undefined ? '?' : `${(x * 100).toFixed(0)}%`);

export interface QuietRunOptions<R> {
  /** Seconds to wait at most for other processes to go quiet. */
  readonly quietWait: number;
  readonly seconds: number;
  /** Seconds of the time budget not yet promised to the remaining runs: waits and re-measurements spend only these. */
  readonly slackS: () => number;
  readonly warmup: () => Promise<unknown>;
  readonly measure: () => Promise<R>;
  readonly line: (run: R) => string;
}

/**
 * One measured run on a shared machine: wait (within the slack) for a quiet
 * moment, warm up, measure; a run disturbed by other processes is measured
 * again once if the budget allows, and the quieter of the two is kept.
 */
export async function measureQuietly<R extends { readonly cpu: CpuShare | null }>(o: QuietRunOptions<R>): Promise<R> {
  const waitS = Math.max(0, Math.min(o.quietWait, o.slackS()));
  const busy = waitS > 0 ? await waitForQuiet(DISTURBED, waitS * 1000) : null;
  if (busy !== null && busy >= DISTURBED) console.log(`    (machine still ${pct(busy)} busy after waiting ${waitS.toFixed(0)} s; measuring anyway)`);
  await o.warmup();
  let run = await o.measure();
  const foreign = (r: R) => r.cpu?.foreign ?? 0;
  if (foreign(run) <= DISTURBED) {
    console.log(o.line(run));
    return run;
  }
  if (o.slackS() < o.seconds) {
    console.log(`${o.line(run)}\n    (other processes used ${pct(run.cpu?.foreign)} of the machine; no time left in the budget to measure again)`);
    return run;
  }
  console.log(`${o.line(run)}\n    (other processes used ${pct(run.cpu?.foreign)} of the machine: measuring again, keeping the quieter run)`);
  const again = await o.measure();
  console.log(o.line(again));
  if (foreign(again) < foreign(run)) run = again;
  console.log(`    (kept the ${run === again ? 'second' : 'first'} run)`);
  return run;
}
