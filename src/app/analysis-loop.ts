import { analyseFrom, type AnalysisCheckpoint, type AnalysisConfig } from '../core/analysis/detector.js';
import { bucketStart, EMPTY_ARM, mergeArms, type ArmWindow, type WindowSlice } from '../core/analysis/window.js';
import { decideProgression } from '../core/progression.js';
import { isActive, type RolloutState, type Verdict } from '../core/rollout-state.js';
import type { ServiceCatalog } from './catalog.js';
import type { Clock } from './clock.js';
import type { RolloutCommands } from './commands.js';
import type { Logger } from './logger.js';
import type { Store } from './store.js';

export interface AnalysisLoopOptions {
  readonly store: Store;
  readonly commands: RolloutCommands;
  readonly catalog: ServiceCatalog;
  readonly clock: Clock;
  readonly log: Logger;
  /** This replica's name in the lease. */
  readonly holder: string;
  readonly intervalMs: number;
  /** Width of the analysis windows; the recorder uses the same. */
  readonly bucketMs: number;
  /** How long after a bucket closes until every replica has flushed it. */
  readonly settleMs: number;
  /** Stable's traffic before the rollout started, for the latency thresholds. */
  readonly baselineMs: number;
  readonly maxInconclusive: number;
  readonly enabledFor: (service: string) => boolean;
  readonly configFor: (service: string) => AnalysisConfig;
  readonly onVerdict?: (service: string, verdict: Verdict) => void;
  readonly onLeader?: (leader: boolean) => void;
}

/** Complete buckets of one rollout read so far; buckets never change once settled. */
interface RolloutWindows {
  readonly rolloutKey: string;
  readonly baseline: ArmWindow;
  readonly buckets: Array<{ bucketMs: number; stable: ArmWindow; candidate: ArmWindow }>;
  readUpToMs: number;
  inconclusiveInARow: number;
  /** The detector's evidence over the buckets judged so far, so a round folds only new buckets. */
  checkpoint: AnalysisCheckpoint | null;
}

const LEASE = 'analysis';

/**
 * The analysis loop: on the replica that holds the lease, every interval, for
 * each active rollout: load (new settled windows), decide (pure detector and
 * progression), write (one command through RolloutCommands), then effects.
 */
export class AnalysisLoop {
  private readonly windows = new Map<string, RolloutWindows>();
  private timer: NodeJS.Timeout | undefined;
  private leader = false;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly o: AnalysisLoopOptions) {}

  start(): void {
    // A round slower than the interval makes the next one wait, never pile up.
    let busy = false;
    this.timer = setInterval(() => {
      if (busy) return;
      busy = true;
      this.running = this.tick().finally(() => (busy = false));
    }, this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    if (this.leader) await this.o.store.releaseLease(LEASE, this.o.holder).catch(() => undefined);
  }

  /** One round; tests call it directly with a driven clock. */
  async tick(): Promise<void> {
    try {
      const leader = await this.o.store.acquireLease(LEASE, this.o.holder, this.o.intervalMs * 3);
      if (leader !== this.leader) {
        this.leader = leader;
        this.o.onLeader?.(leader);
        this.o.log.info({ holder: this.o.holder, leader }, leader ? 'analysis lease taken' : 'analysis lease lost');
      }
      if (!leader) return;
      for (const service of this.o.catalog.names) if (this.o.enabledFor(service)) await this.judge(service);
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'analysis round skipped');
    }
  }

  private async judge(service: string): Promise<void> {
    const state = await this.o.store.getState(service);
    if (state === null || !isActive(state) || state.candidate === null || state.startedAt === null) {
      this.windows.delete(service);
      return;
    }
    const now = this.o.clock.now();
    const windows = await this.load(service, state, state.candidate, now);
    const input = { now, weightBp: state.weightBp, weightSinceMs: state.weightSince ?? state.startedAt, baseline: windows.baseline, buckets: windows.buckets };
    const { verdict, checkpoint } = analyseFrom(input, this.o.configFor(service), windows.checkpoint);
    windows.checkpoint = checkpoint;
    windows.inconclusiveInARow = verdict.result === 'inconclusive' ? windows.inconclusiveInARow + 1 : 0;
    await this.o.store.putVerdict(service, verdict);
    const limits = { maxInconclusive: this.o.maxInconclusive, releaseWindows: this.o.catalog.get(service).releaseWindows };
    const next = decideProgression(state, verdict, windows.inconclusiveInARow, now, limits);
    if (next !== null) {
      await this.o.commands.run(service, next.command, { actor: 'analysis', reason: next.reason, ifMatch: state.revision, verdict });
      this.o.log.info({ service, action: next.command.type, reason: next.reason }, 'analysis moved the rollout');
    }
    this.o.onVerdict?.(service, verdict);
  }

  /** Reads only the buckets that settled since the last round of this rollout. */
  private async load(service: string, state: RolloutState, candidate: string, now: number): Promise<RolloutWindows> {
    const { bucketMs } = this.o;
    const startedAt = state.startedAt ?? now;
    const rolloutKey = `${candidate}@${startedAt}`;
    let windows = this.windows.get(service);
    if (windows === undefined || windows.rolloutKey !== rolloutKey) {
      const first = bucketStart(startedAt, bucketMs);
      const before = await this.o.store.readWindows(service, first - this.o.baselineMs, first, bucketMs);
      const baseline = before.filter((s) => s.version === state.stable).reduce((acc, s) => mergeArms(acc, s.arm), EMPTY_ARM);
      windows = { rolloutKey, baseline, buckets: [], readUpToMs: first, inconclusiveInARow: 0, checkpoint: null };
      this.windows.set(service, windows);
    }
    const settled = bucketStart(now - this.o.settleMs, bucketMs);
    if (settled > windows.readUpToMs) {
      const slices = await this.o.store.readWindows(service, windows.readUpToMs, settled, bucketMs);
      windows.buckets.push(...pairByBucket(slices, state.stable, candidate, windows.readUpToMs, settled, bucketMs));
      windows.readUpToMs = settled;
    }
    return windows;
  }
}

/** One entry per bucket in [from, to), empty windows where no traffic came. */
function pairByBucket(slices: readonly WindowSlice[], stable: string, candidate: string, fromMs: number, toMs: number, widthMs: number) {
  const byBucket = new Map<number, { bucketMs: number; stable: ArmWindow; candidate: ArmWindow }>();
  for (let b = fromMs; b < toMs; b += widthMs) byBucket.set(b, { bucketMs: b, stable: EMPTY_ARM, candidate: EMPTY_ARM });
  for (const slice of slices) {
    const pair = byBucket.get(slice.bucketMs);
    if (pair === undefined) continue;
    if (slice.version === stable) pair.stable = mergeArms(pair.stable, slice.arm);
    else if (slice.version === candidate) pair.candidate = mergeArms(pair.candidate, slice.arm);
  }
  return [...byBucket.values()];
}
