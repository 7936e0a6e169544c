import { performance } from 'node:perf_hooks';
import { analyseFrom, type AnalysisConfig } from '../core/analysis/detector.js';
import { isSwitchyardError } from '../core/errors.js';
import { decideRound } from '../core/progression.js';
import { isActive, type Hold, type RolloutState, type ShadowVerdict, type Verdict } from '../core/rollout-state.js';
import type { DriftConfig } from '../core/shadow/drift.js';
import type { PredictionKind } from '../core/shadow/prediction.js';
import type { ServiceCatalog } from './catalog.js';
import type { Clock } from './clock.js';
import type { RolloutCommands } from './commands.js';
import type { Logger } from './logger.js';
import { SettledWindows } from './settled-windows.js';
import { ShadowJudge } from './shadow-judge.js';
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
  /** The service's shadow prediction comparison (null kind: none configured) and drift policy; default none. */
  readonly comparisonFor?: (service: string) => { readonly kind: PredictionKind | null; readonly drift: DriftConfig };
  readonly onVerdict?: (service: string, verdict: Verdict) => void;
  readonly onShadowVerdict?: (service: string, verdict: ShadowVerdict) => void;
  readonly onLeader?: (leader: boolean) => void;
  /**
   * A hold began (the hold) or ended (null): once each, not every round. `state`
   * is the rollout it holds, or null when the service's state is gone.
   */
  readonly onHold?: (service: string, hold: Hold | null, state: RolloutState | null) => void;
  /** Judging one service failed; the round went on with the others. */
  readonly onError?: (service: string, err: Error) => void;
  /** A round on the lease holder ended: how long it took and how many services it judged and failed. */
  readonly onRound?: (round: { readonly durationMs: number; readonly services: number; readonly failed: number }) => void;
  /** Services judged at once in a round; default 16. */
  readonly concurrency?: number;
}

const LEASE = 'analysis';
const DEFAULT_CONCURRENCY = 16;

/**
 * The analysis loop: on the replica that holds the lease, every interval, for
 * each active rollout: load (new settled windows), decide (the pure detector,
 * then decideRound), write (the verdict once, then at most one command through
 * RolloutCommands, compare-and-set on the revision judged), then effects.
 * Services are judged a bounded number at a time, and one that fails is
 * logged and counted without stopping the round. A service's shadow is judged
 * in the same round (see ShadowJudge), with or without a rollout; on a shadow
 * step its verdict decides the progression.
 */
export class AnalysisLoop {
  private readonly live: SettledWindows;
  private readonly shadows: ShadowJudge;
  /** What holds each service's rollout, with the rollout it held, so a hold is announced once. */
  private readonly holds = new Map<string, { readonly key: string; readonly hold: Hold }>();
  private timer: NodeJS.Timeout | undefined;
  private leader = false;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly o: AnalysisLoopOptions) {
    this.live = new SettledWindows(o);
    this.shadows = new ShadowJudge(o);
  }

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
    let leader: boolean;
    try {
      leader = await this.o.store.acquireLease(LEASE, this.o.holder, this.o.intervalMs * 3);
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'analysis round skipped: the lease could not be read');
      return;
    }
    if (leader !== this.leader) {
      this.leader = leader;
      // Holds are this holder's judgement: a later holder announces its own.
      if (!leader) this.holds.clear();
      this.o.onLeader?.(leader);
      this.o.log.info({ holder: this.o.holder, leader }, leader ? 'analysis lease taken' : 'analysis lease lost');
    }
    if (!leader) return;
    const started = performance.now();
    const services = this.o.catalog.names.filter((service) => this.o.enabledFor(service));
    const lease = { renewedAt: started, held: true };
    let failed = 0;
    await eachBounded(services, this.o.concurrency ?? DEFAULT_CONCURRENCY, async (service) => {
      if (!(await this.keepLease(lease))) return;
      if (!(await this.judgeIsolated(service))) failed += 1;
    });
    this.o.onRound?.({ durationMs: performance.now() - started, services: services.length, failed });
  }

  /**
   * A round longer than an interval (a new holder reading every rollout's
   * history) renews the lease as it goes, so no other replica takes it and
   * starts the same work; a round that lost it stops judging.
   */
  private async keepLease(lease: { renewedAt: number; held: boolean }): Promise<boolean> {
    if (!lease.held || performance.now() - lease.renewedAt < this.o.intervalMs) return lease.held;
    lease.renewedAt = performance.now();
    lease.held = await this.o.store.acquireLease(LEASE, this.o.holder, this.o.intervalMs * 3).catch(() => false);
    if (!lease.held) this.o.log.warn({ holder: this.o.holder }, 'analysis lease lost during a round; the rest of the round is left to the new holder');
    return lease.held;
  }

  /** Judges one service; a failure is logged and counted, and false, never thrown into the round. */
  private async judgeIsolated(service: string): Promise<boolean> {
    try {
      await this.judge(service);
      return true;
    } catch (err) {
      const error = err as Error;
      if (isSwitchyardError(err) && err.code === 'SY_ERR_STALE_REVISION') {
        // Humans win: an operator wrote between this round's read and its move, so the move judged an old state.
        this.o.log.info({ service }, 'analysis: the rollout changed while it was judged; judged again next round');
        return true;
      }
      this.o.log.warn({ service, err: error.message }, 'analysis: this service was not judged this round');
      this.o.onError?.(service, error);
      return false;
    }
  }

  private async judge(service: string): Promise<void> {
    const state = await this.o.store.getState(service);
    if (state === null) {
      this.live.forget(service);
      this.endHold(service, null);
      return;
    }
    const now = this.o.clock.now();
    const shadow = await this.judgeShadow(service, state, now);
    if (!isActive(state) || state.candidate === null || state.startedAt === null) {
      this.live.forget(service);
      this.endHold(service, state);
      if (shadow === null) return;
      await this.o.store.putVerdict(service, shadowOnlyVerdict(shadow, now));
      this.o.onShadowVerdict?.(service, shadow);
      return;
    }
    const key = `${state.candidate}@${state.startedAt}`;
    const series = { baseline: state.stable, stable: state.stable, candidate: state.candidate };
    const weight = { weightBp: state.weightBp, sinceMs: state.weightSince ?? state.startedAt };
    const windows = await this.live.load(service, series, key, state.startedAt, now, weight);
    const input = { now, weightBp: state.weightBp, weightSinceMs: weight.sinceMs, baseline: windows.baseline, buckets: windows.buckets };
    const judged = analyseFrom(input, this.o.configFor(service), windows.checkpoint);
    windows.checkpoint = judged.checkpoint;
    const config = this.o.catalog.get(service);
    const limits = { maxInconclusive: this.o.maxInconclusive, releaseWindows: config.releaseWindows, driftAction: config.shadow.drift.action };
    const withShadow: Verdict = shadow === null ? judged.verdict : { ...judged.verdict, shadow };
    const previous = this.holds.get(service);
    const round = decideRound({
      state,
      verdict: withShadow,
      inconclusiveInARow: windows.inconclusiveInARow,
      previousHold: previous?.key === key ? previous.hold : null,
      now,
      limits,
    });
    windows.inconclusiveInARow = round.inconclusiveInARow;
    const verdict: Verdict = { ...withShadow, startedAt: state.startedAt, held: round.hold };
    await this.o.store.putVerdict(service, verdict);
    const next = round.progression;
    if (next !== null) {
      const rule = next.rule === undefined ? {} : { rule: next.rule };
      await this.o.commands.run(service, next.command, { actor: 'analysis', reason: next.reason, ifMatch: state.revision, verdict, ...rule });
      this.o.log.info({ service, action: next.command.type, reason: next.reason }, 'analysis moved the rollout');
    }
    this.o.onVerdict?.(service, verdict);
    if (shadow !== null) this.o.onShadowVerdict?.(service, shadow);
    this.noteHold(service, key, round.hold, state);
  }

  /** The shadow's verdict; a failure to judge it is logged and never keeps the live rollout from being judged. */
  private async judgeShadow(service: string, state: RolloutState, now: number): Promise<ShadowVerdict | null> {
    try {
      return await this.shadows.judge(service, state, now);
    } catch (err) {
      this.o.log.warn({ service, err: (err as Error).message }, 'shadow not judged this round');
      return null;
    }
  }

  /** Announces a hold when it begins (or changes kind) and when it ends, not every round. */
  private noteHold(service: string, key: string, hold: Hold | null, state: RolloutState): void {
    const previous = this.holds.get(service);
    if (hold === null) {
      this.endHold(service, state);
      return;
    }
    this.holds.set(service, { key, hold });
    if (previous?.key === key && previous.hold.kind === hold.kind) return;
    this.o.log.warn({ service, kind: hold.kind, reason: hold.reason }, 'analysis holds the rollout');
    this.o.onHold?.(service, hold, state);
  }

  private endHold(service: string, state: RolloutState | null): void {
    const previous = this.holds.get(service);
    if (previous === undefined) return;
    this.holds.delete(service);
    this.o.log.info({ service, kind: previous.hold.kind }, 'analysis no longer holds the rollout');
    this.o.onHold?.(service, null, state);
  }
}

/** Runs `work` on every item, at most `limit` at a time. */
async function eachBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++] as T);
  });
  await Promise.all(lanes);
}

/** The verdict stored while only a shadow runs: no rollout to judge, the shadow's judgement beside it. */
function shadowOnlyVerdict(shadow: ShadowVerdict, now: number): Verdict {
  const drift = shadow.drift === null ? '' : `; drift: ${shadow.drift.reason}`;
  return {
    result: 'inconclusive',
    reason: `no rollout in progress; shadow ${shadow.version}: ${shadow.reason}${drift}`,
    at: now,
    hold: false,
    checks: [],
    figures: {},
    shadow,
    startedAt: null,
    held: null,
  };
}
