import { analyseFrom, type AnalysisConfig } from '../core/analysis/detector.js';
import { decideProgression, decisiveResult, shadowHoldReason } from '../core/progression.js';
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
  /** A hold began (the hold) or ended (null): once each, not every round; `state` is the rollout it holds. */
  readonly onHold?: (service: string, hold: Hold | null, state: RolloutState) => void;
  /** Judging one service failed; the round went on with the others. */
  readonly onError?: (service: string, err: Error) => void;
  /** A round on the lease holder ended: how long it took and how many services it judged and failed. */
  readonly onRound?: (round: { readonly durationMs: number; readonly services: number; readonly failed: number }) => void;
  /** Services judged at once in a round; default 16. */
  readonly concurrency?: number;
}

const LEASE = 'analysis';

/**
 * The analysis loop: on the replica that holds the lease, every interval, for
 * each active rollout: load (new settled windows), decide (pure detector and
 * progression), write (one command through RolloutCommands), then effects. A
 * service's shadow is judged in the same round (see ShadowJudge), with or
 * without a rollout; on a shadow step its verdict decides the progression.
 */
export class AnalysisLoop {
  private readonly live: SettledWindows;
  private readonly shadows: ShadowJudge;
  /** Services held on a shadow step by prediction drift. */
  private readonly held = new Set<string>();
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
    if (state === null) {
      this.live.forget(service);
      return;
    }
    const now = this.o.clock.now();
    const shadow = await this.judgeShadow(service, state, now);
    if (!isActive(state) || state.candidate === null || state.startedAt === null) {
      this.live.forget(service);
      if (shadow === null) return;
      await this.o.store.putVerdict(service, shadowOnlyVerdict(shadow, now));
      this.o.onShadowVerdict?.(service, shadow);
      return;
    }
    const series = { baseline: state.stable, stable: state.stable, candidate: state.candidate };
    const windows = await this.live.load(service, series, `${state.candidate}@${state.startedAt}`, state.startedAt, now);
    const input = { now, weightBp: state.weightBp, weightSinceMs: state.weightSince ?? state.startedAt, baseline: windows.baseline, buckets: windows.buckets };
    const judged = analyseFrom(input, this.o.configFor(service), windows.checkpoint);
    windows.checkpoint = judged.checkpoint;
    const verdict: Verdict = shadow === null ? judged.verdict : { ...judged.verdict, shadow };
    windows.inconclusiveInARow = decisiveResult(state, verdict) === 'inconclusive' ? windows.inconclusiveInARow + 1 : 0;
    await this.o.store.putVerdict(service, verdict);
    const config = this.o.catalog.get(service);
    const limits = { maxInconclusive: this.o.maxInconclusive, releaseWindows: config.releaseWindows, driftAction: config.shadow.drift.action };
    const next = decideProgression(state, verdict, windows.inconclusiveInARow, now, limits);
    this.noteHold(service, shadowHoldReason(state, verdict, limits.driftAction));
    if (next !== null) {
      await this.o.commands.run(service, next.command, { actor: 'analysis', reason: next.reason, ifMatch: state.revision, verdict });
      this.o.log.info({ service, action: next.command.type, reason: next.reason }, 'analysis moved the rollout');
    }
    this.o.onVerdict?.(service, verdict);
    if (shadow !== null) this.o.onShadowVerdict?.(service, shadow);
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

  /** Logs when a shadow step starts or stops being held by drift, not every round. */
  private noteHold(service: string, reason: string | null): void {
    if (reason === null) {
      if (this.held.delete(service)) this.o.log.info({ service }, 'analysis: the shadow step is no longer held by prediction drift');
      return;
    }
    if (this.held.has(service)) return;
    this.held.add(service);
    this.o.log.warn({ service, reason }, 'analysis holds the rollout: prediction drift');
  }
}

/** The verdict stored while only a shadow runs: no rollout to judge, the shadow's judgement beside it. */
function shadowOnlyVerdict(shadow: ShadowVerdict, now: number): Verdict {
  const drift = shadow.drift === null ? '' : `; drift: ${shadow.drift.reason}`;
  return { result: 'inconclusive', reason: `no rollout in progress; shadow ${shadow.version}: ${shadow.reason}${drift}`, at: now, hold: false, checks: [], figures: {}, shadow };
}
