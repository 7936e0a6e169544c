import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Hold, Phase } from '../core/rollout-state.js';

/** Why a rollout does not move: paused (by an operator or the analysis), or held by the analysis. */
export const HELD_WHY = ['paused', 'sample-ratio', 'shadow-drift'] as const satisfies ReadonlyArray<'paused' | Hold['kind']>;
const ANALYSIS_HOLDS: readonly Hold['kind'][] = ['sample-ratio', 'shadow-drift'];

/** One round of the analysis loop on the lease holder. */
export interface AnalysisRound {
  readonly durationMs: number;
  readonly services: number;
  readonly failed: number;
}

/** From a round over a few idle services (about a millisecond) to one stuck on a slow store. */
const ROUND_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Control-plane series about rollouts that wait for a human and about the
 * analysis loop itself. `switchyard_rollout_held` is always exported, 0 or 1,
 * for every service and reason, so the alert rule and dashboards compare values
 * instead of guessing what an absent series means. Pauses come from the state
 * every replica routes on; analysis holds only from the lease holder, which
 * zeros them when it loses the lease (the next holder reports them again).
 */
export class AnalysisMetrics {
  private readonly held: Gauge<'service' | 'why'>;
  private readonly errors: Counter<'service'>;
  private readonly roundSeconds: Histogram;
  private readonly roundServices: Gauge;
  private readonly services = new Set<string>();

  constructor(registers: Registry[]) {
    this.held = new Gauge({
      name: 'switchyard_rollout_held',
      help: `Whether the rollout of the service waits for a human (1) or not (0), by why: ${HELD_WHY.join(', ')} (the analysis' holds, reported by the lease holder).`,
      labelNames: ['service', 'why'],
      registers,
    });
    this.errors = new Counter({
      name: 'switchyard_analysis_errors_total',
      help: 'Times the analysis failed to judge a service in a round (logged; the round went on with the others), by service.',
      labelNames: ['service'],
      registers,
    });
    this.roundSeconds = new Histogram({
      name: 'switchyard_analysis_round_seconds',
      help: 'How long an analysis round over every service took on this replica (only the lease holder runs rounds).',
      buckets: ROUND_BUCKETS_SECONDS,
      registers,
    });
    this.roundServices = new Gauge({
      name: 'switchyard_analysis_round_services',
      help: 'Services the last analysis round on this replica judged (only the lease holder runs rounds).',
      registers,
    });
  }

  /** Zeros for a service's series, so an alert or `increase()` sees its first 1. */
  introduce(service: string): void {
    if (this.services.has(service)) return;
    this.services.add(service);
    for (const why of HELD_WHY) this.held.set({ service, why }, 0);
    this.errors.inc({ service }, 0);
  }

  /** The phase of the state this replica routes on. */
  onPhase(service: string, phase: Phase): void {
    this.introduce(service);
    this.held.set({ service, why: 'paused' }, phase === 'paused' ? 1 : 0);
  }

  /** The analysis began a hold (replacing one of another kind) or ended it (null). */
  onHold(service: string, hold: Hold | null): void {
    this.introduce(service);
    for (const why of ANALYSIS_HOLDS) this.held.set({ service, why }, why === hold?.kind ? 1 : 0);
  }

  onError(service: string): void {
    this.errors.inc({ service });
  }

  onRound(round: AnalysisRound): void {
    this.roundSeconds.observe(round.durationMs / 1000);
    this.roundServices.set(round.services);
  }

  /** A replica that no longer judges cannot see a hold end: it stops reporting holds. */
  onLeaseLost(): void {
    for (const service of this.services) this.onHold(service, null);
  }
}
