import { performance } from 'node:perf_hooks';
import { AnalysisLoop } from '../../src/app/analysis-loop.js';
import type { Clock } from '../../src/app/clock.js';
import { RolloutCommands } from '../../src/app/commands.js';
import { silentLogger } from '../../src/app/logger.js';
import type { Store } from '../../src/app/store.js';
import { CANDIDATE, type Fleet } from './fleet.js';
import type { FleetTraffic } from './traffic.js';

/** The bench's time: it moves only when the bench moves it, as in the loop's tests. */
export class DrivenClock implements Clock {
  constructor(public nowMs: number) {}

  now(): number {
    return this.nowMs;
  }
}

/** The candidate's weight per service as the rollouts stand, so new windows follow a rollback (weight 0). */
export type Weights = Map<string, number>;

/** Buckets of one service per write while preparing: a few thousand commands in flight on Redis, under its 2-s command timeout. */
const PREPARE_BUCKETS = 60;

/**
 * Writes every service's initial state, starts its rollout at `startMs`, and
 * writes its windows: the pre-rollout baseline (stable alone) and `historyMs`
 * of rollout at the first step's weight, a minute of one service per write.
 * Leaves the clock at the end of the history.
 */
export async function prepareStore(
  store: Store,
  fleet: Fleet,
  traffic: FleetTraffic,
  clock: DrivenClock,
  o: { readonly startMs: number; readonly historyMs: number; readonly writeConcurrency: number },
): Promise<{ weights: Weights; slices: number }> {
  const { bucket, baseline, retention } = fleet.config.analysis;
  const commands = new RolloutCommands(store, fleet.catalog, clock);
  const weights: Weights = new Map();
  clock.nowMs = o.startMs;
  await commands.seed();
  await eachBounded(fleet.names, 16, async (service) => {
    const started = await commands.run(service, { type: 'start', candidate: CANDIDATE }, { actor: 'bench', reason: 'bench rollout' });
    weights.set(service, started.weightBp);
  });
  let slices = 0;
  const chunkMs = PREPARE_BUCKETS * bucket;
  await eachBounded(fleet.names.map((_, i) => i), o.writeConcurrency, async (i) => {
    const weightBp = weights.get(fleet.names[i] as string) ?? 0;
    const endMs = o.startMs + o.historyMs;
    for (let from = o.startMs - baseline, to = from; from < endMs; from = to) {
      // A write never straddles the start: the baseline has no candidate traffic.
      to = Math.min(from + chunkMs, from < o.startMs ? o.startMs : endMs);
      const written = traffic.slices(i, from, to, bucket, from < o.startMs ? 0 : weightBp);
      slices += written.length;
      await store.addWindows(written, retention);
    }
  });
  clock.nowMs = o.startMs + o.historyMs;
  return { weights, slices };
}

export interface RoundTimes {
  /** The first round of a new lease holder: it reads every baseline and all history. */
  readonly firstMs: number;
  /** Rounds after `interval` more seconds of windows were written. */
  readonly steadyMs: readonly number[];
  /** Services a round judged (the last round's count), and those it could not judge, summed over the rounds. */
  readonly services: number;
  readonly failed: number;
  /** Verdicts by result over all the rounds, and the moves the loop made. */
  readonly verdicts: ReadonlyMap<string, number>;
  readonly moves: number;
}

/**
 * A new AnalysisLoop (a fresh lease holder) with the gateway's defaults and
 * `concurrency`: its first round, then `rounds` rounds each after one
 * interval of new windows was written (a second at a time, as the flusher
 * writes them). Only tick() is timed.
 */
export async function timeRounds(
  store: Store,
  fleet: Fleet,
  traffic: FleetTraffic,
  clock: DrivenClock,
  weights: Weights,
  o: { readonly concurrency: number; readonly rounds: number },
): Promise<RoundTimes> {
  const a = fleet.config.analysis;
  const commands = new RolloutCommands(store, fleet.catalog, clock);
  const verdicts = new Map<string, number>();
  let services = 0;
  let failed = 0;
  let moves = 0;
  commands.onTransition((t) => {
    weights.set(t.service, t.after.weightBp);
    moves += 1;
  });
  const loop = new AnalysisLoop({
    store,
    commands,
    catalog: fleet.catalog,
    clock,
    log: silentLogger,
    holder: 'bench',
    intervalMs: a.interval,
    bucketMs: a.bucket,
    settleMs: a.settle,
    baselineMs: a.baseline,
    maxInconclusive: a.maxInconclusive,
    enabledFor: (service) => fleet.catalog.get(service).analysis.enabled,
    configFor: (service) => fleet.catalog.get(service).analysis.config,
    onVerdict: (_service, verdict) => verdicts.set(verdict.result, (verdicts.get(verdict.result) ?? 0) + 1),
    onRound: (round) => {
      services = round.services;
      failed += round.failed;
    },
    concurrency: o.concurrency,
  });
  const firstMs = await timed(() => loop.tick());
  const steadyMs: number[] = [];
  for (let r = 0; r < o.rounds; r++) {
    for (let s = 0; s < a.interval; s += a.bucket) await writeSecond(store, fleet, traffic, clock.nowMs + s, weights);
    clock.nowMs += a.interval;
    steadyMs.push(await timed(() => loop.tick()));
  }
  await loop.stop();
  return { firstMs, steadyMs, services, failed, verdicts, moves };
}

/** One flush: the bucket at `fromMs` of every service, in one write. */
async function writeSecond(store: Store, fleet: Fleet, traffic: FleetTraffic, fromMs: number, weights: Weights): Promise<void> {
  const { bucket, retention } = fleet.config.analysis;
  const slices = fleet.names.flatMap((service, i) => traffic.slices(i, fromMs, fromMs + bucket, bucket, weights.get(service) ?? 0));
  await store.addWindows(slices, retention);
}

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** Runs `work` on every item, at most `limit` at a time. */
async function eachBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++] as T);
  });
  await Promise.all(lanes);
}
