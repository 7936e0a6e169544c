import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { LoadedCert } from '../tls/material.js';
import type { Clock } from '../app/clock.js';
import type { RequestObserver, RequestRecord, ShadowDrop, ShadowObserver, ShadowRecord } from '../app/request-observer.js';
import { ROUTING_SOURCES, type RoutingSource, type ServiceView } from '../app/routing-table.js';
import { isLive, type Override } from '../core/override.js';
import { PHASES, type Hold, type ShadowVerdict, type Verdict, type VerdictResult } from '../core/rollout-state.js';
import { MAX_WEIGHT_BP } from '../core/weight.js';
import { AnalysisMetrics, type AnalysisRound } from './analysis-metrics.js';
import { registerRequestMetrics, RequestTally, type SeriesCounts } from './request-tally.js';
import { registerShadowMetrics, ShadowTally, type ShadowCounts } from './shadow-tally.js';
import type { TransitionKind } from './transition-kind.js';

export interface MetricsOptions {
  /** Reads the time for override ages at scrape time. */
  readonly clock: Clock;
  /** Node.js process metrics under their standard names (`process_*`, `nodejs_*`); default true. */
  readonly processMetrics?: boolean;
  /** Upper bounds of the latency histogram, in seconds; default 5 ms .. 30 s. */
  readonly latencyBucketsSeconds?: readonly number[];
}

const VERDICT_RESULTS: readonly VerdictResult[] = ['pass', 'fail', 'inconclusive'];
/** Verdict figures named `<test>Evidence` are exported as the evidence of `<test>`. */
const EVIDENCE_SUFFIX = 'Evidence';

/**
 * What Prometheus scrapes from one replica, on a Registry of its own (never
 * prom-client's global one). Counters count what this replica saw or did, so
 * `sum()` across replicas gives the fleet's totals; gauges describe the state
 * this replica routes on. The analysis does not read these: it has its own
 * mergeable windows.
 */
export class Metrics implements RequestObserver, ShadowObserver {
  readonly registry = new Registry();
  readonly contentType: string = this.registry.contentType;

  private readonly tally: RequestTally;
  private readonly shadowTally = new ShadowTally();
  private readonly clock: Clock;
  /** Services whose per-service series were given their zeros. */
  private readonly known = new Set<string>();
  private readonly overrides = new Map<string, ReadonlyMap<string, Override>>();
  private readonly versions = new Map<string, { stable: string; candidate: string }>();
  private readonly evidenceTests = new Map<string, Set<string>>();

  private readonly fallbacks: Counter<'service' | 'from' | 'to'>;
  private readonly ejections: Counter<'service' | 'version' | 'target'>;
  private readonly weight: Gauge<'service'>;
  private readonly phase: Gauge<'service' | 'phase'>;
  private readonly info: Gauge<'service' | 'stable' | 'candidate'>;
  private readonly transitions: Record<TransitionKind, Counter<'service' | 'actor'>>;
  private readonly storeUp: Gauge;
  private readonly schemaRefused: Gauge<'service'>;
  private readonly routingSource: Gauge<'service' | 'source'>;
  private readonly verdicts: Counter<'service' | 'result'>;
  private readonly evidence: Gauge<'service' | 'test'>;
  private readonly leader: Gauge;
  private readonly workers: Gauge;
  private readonly drainCut: Counter;
  private readonly certExpiry: Gauge<'field' | 'file' | 'subject'>;
  private readonly shadowVerdicts: Counter<'service' | 'version' | 'result'>;
  private readonly shadowDrift: Gauge<'service' | 'version'>;
  private readonly shadowDisagreement: Gauge<'service' | 'version'>;
  private readonly analysis: AnalysisMetrics;

  constructor(options: MetricsOptions) {
    this.clock = options.clock;
    this.tally = new RequestTally(options.latencyBucketsSeconds);
    const registers = [this.registry];
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    registerRequestMetrics(this.registry, this.tally);
    registerShadowMetrics(this.registry, this.shadowTally);

    this.fallbacks = new Counter({
      name: 'switchyard_fallbacks_total',
      help: 'Requests that a failing version did not answer and another version (or the fallback response) did, by service, failing version and the one that answered.',
      labelNames: ['service', 'from', 'to'],
      registers,
    });
    this.ejections = new Counter({
      name: 'switchyard_target_ejections_total',
      help: 'Times a target was taken out of its pool for a cool-down after failing in a row (passive health), by service, version and target.',
      labelNames: ['service', 'version', 'target'],
      registers,
    });
    this.weight = new Gauge({
      name: 'switchyard_candidate_weight_ratio',
      help: 'Share of the service traffic assigned to the candidate, as a ratio from 0 to 1 (not percent); blue-green switches between 0 and 1.',
      labelNames: ['service'],
      registers,
    });
    this.phase = new Gauge({
      name: 'switchyard_rollout_phase',
      help: `Rollout phase of the service: 1 for the current phase, 0 for the others (${PHASES.join(', ')}).`,
      labelNames: ['service', 'phase'],
      registers,
    });
    this.info = new Gauge({
      name: 'switchyard_rollout_info',
      help: 'Always 1; labels name the stable and candidate versions of the service (candidate empty when none).',
      labelNames: ['service', 'stable', 'candidate'],
      registers,
    });
    const byActor = (name: string, what: string): Counter<'service' | 'actor'> =>
      new Counter({
        name,
        help: `${what} written by this replica, by service and actor (a token name, analysis, alertmanager); the reasons are in the audit log.`,
        labelNames: ['service', 'actor'],
        registers,
      });
    this.transitions = {
      rollback: byActor('switchyard_rollbacks_total', 'Rollbacks'),
      promote: byActor('switchyard_promotions_total', 'Promotions'),
      step: byActor('switchyard_step_changes_total', 'Weight or step changes of running rollouts'),
    };
    const overrides = this.overrides;
    const clock = this.clock;
    new Gauge({
      name: 'switchyard_overrides_active',
      help: 'Overrides (user keys pinned to a version) not yet expired, by service.',
      labelNames: ['service'],
      registers,
      collect() {
        const now = clock.now();
        for (const [service, pins] of overrides) this.set({ service }, liveOverrides(pins, now).count);
      },
    });
    new Gauge({
      name: 'switchyard_override_oldest_age_seconds',
      help: 'Age of the oldest override not yet expired, by service; 0 when there is none.',
      labelNames: ['service'],
      registers,
      collect() {
        const now = clock.now();
        for (const [service, pins] of overrides) {
          const { oldestAt } = liveOverrides(pins, now);
          this.set({ service }, oldestAt === null ? 0 : Math.max(0, (now - oldestAt) / 1000));
        }
      },
    });
    this.storeUp = new Gauge({
      name: 'switchyard_store_up',
      help: 'Whether this replica reaches the rollout state store (1) or routes on the last known state (0).',
      registers,
    });
    this.schemaRefused = new Gauge({
      name: 'switchyard_store_schema_refused',
      help: 'Whether this replica refuses the stored state of the service because a newer Switchyard wrote it (1) or not (0).',
      labelNames: ['service'],
      registers,
    });
    this.routingSource = new Gauge({
      name: 'switchyard_routing_source',
      help: `Where this replica's routing state of the service came from: 1 for the current source, 0 for the others (${ROUTING_SOURCES.join(', ')}); snapshot and config mean the store has not been read since the replica started.`,
      labelNames: ['service', 'source'],
      registers,
    });
    this.verdicts = new Counter({
      name: 'switchyard_analysis_verdicts_total',
      help: 'Analysis verdicts reached on this replica (only the lease holder judges), by service and result: pass, fail, inconclusive.',
      labelNames: ['service', 'result'],
      registers,
    });
    this.evidence = new Gauge({
      name: 'switchyard_analysis_evidence',
      help: 'Evidence against the candidate in the last verdict, by service and test (error, latency, ...); compare with 1/alpha.',
      labelNames: ['service', 'test'],
      registers,
    });
    this.leader = new Gauge({
      name: 'switchyard_analysis_leader',
      help: 'Whether this replica holds the analysis lease and runs the loop (1) or not (0).',
      registers,
    });
    this.workers = new Gauge({
      name: 'switchyard_proxy_workers',
      help: 'Proxy worker processes running on this host (serve --workers); 1 when the proxy runs in the one process.',
      registers,
    });
    this.workers.set(1);
    this.drainCut = new Counter({
      name: 'switchyard_drain_cut_total',
      help: 'Requests and streams still open when the drain timeout ended, cut by the shutdown (proxy.drainTimeout).',
      registers,
    });
    this.certExpiry = new Gauge({
      name: 'switchyard_tls_cert_expiry_seconds',
      help: 'When each certificate the gateway loaded expires, as a Unix time in seconds, by the config field and file it came from and its subject (listener and client certificates and their CAs). Alert on it minus time().',
      labelNames: ['field', 'file', 'subject'],
      registers,
    });
    this.shadowVerdicts = new Counter({
      name: 'switchyard_shadow_verdicts_total',
      help: "Verdicts of the analysis on a shadow (the detector on the shadow's answers against stable's to the same requests), by result.",
      labelNames: ['service', 'version', 'result'] as const,
      registers,
    });
    this.shadowDrift = new Gauge({
      name: 'switchyard_shadow_drift_flagged',
      help: "Whether the shadow's predictions drift from stable's beyond the configured tolerance (1) or not (0), by the last verdict.",
      labelNames: ['service', 'version'] as const,
      registers,
    });
    this.shadowDisagreement = new Gauge({
      name: 'switchyard_shadow_disagreement_ratio',
      help: "Share of compared pairs where the shadow's prediction disagreed with stable's since the shadow started, by the last verdict.",
      labelNames: ['service', 'version'] as const,
      registers,
    });
    this.analysis = new AnalysisMetrics(registers);
  }

  /** The request path (RequestObserver): counts into plain arrays, never awaits. */
  observe(record: RequestRecord): void {
    this.tally.observe(record);
  }

  /** A mirrored pair, once both answers are in. */
  observeShadow(record: ShadowRecord): void {
    this.shadowTally.observeShadow(record);
  }

  /** A copy for the shadow that was not sent. */
  dropped(service: string, version: string, why: ShadowDrop): void {
    this.shadowTally.dropped(service, version, why);
  }

  /** Request and shadow counts a cluster worker gathered since its last batch. */
  absorb(series: readonly SeriesCounts[], shadows: readonly ShadowCounts[]): void {
    for (const counts of series) this.tally.add(counts);
    for (const counts of shadows) this.shadowTally.add(counts);
  }

  /** How many proxy worker processes are running (`serve --workers`). */
  onWorkers(running: number): void {
    this.workers.set(running);
  }

  /** The drain timeout ended with `cut` requests or streams still open, and they were cut. */
  onDrainCut(cut: number): void {
    this.drainCut.inc(cut);
  }

  /** The certificates loaded now: a reloaded file's old certificates leave the metric. */
  onTlsCerts(certs: readonly LoadedCert[]): void {
    this.certExpiry.reset();
    for (const c of certs) this.certExpiry.set({ field: c.field, file: c.file, subject: c.subject }, Math.floor(c.notAfterMs / 1000));
  }

  /** A request that `from` failed and `to` answered (a version, or `fallback-response`). */
  onFallback(service: string, from: string, to: string): void {
    this.fallbacks.inc({ service, from, to });
  }

  /** Passive health took a target out of rotation for a cool-down. */
  onEjection(service: string, version: string, target: string): void {
    this.ejections.inc({ service, version, target });
  }

  /** A service's routing view changed (RoutingTable.onUpdate). */
  onState(service: string, view: ServiceView): void {
    this.introduce(service);
    const { state } = view;
    this.weight.set({ service }, state.weightBp / MAX_WEIGHT_BP);
    for (const phase of PHASES) this.phase.set({ service, phase }, phase === state.phase ? 1 : 0);
    this.analysis.onPhase(service, state.phase);
    const versions = { stable: state.stable, candidate: state.candidate ?? '' };
    const shown = this.versions.get(service);
    if (shown === undefined || shown.stable !== versions.stable || shown.candidate !== versions.candidate) {
      if (shown !== undefined) this.info.remove({ service, ...shown });
      this.info.set({ service, ...versions }, 1);
      this.versions.set(service, versions);
    }
    this.overrides.set(service, view.overrides);
    // The routing table accepts a state only after its schema check passed.
    this.schemaRefused.set({ service }, 0);
  }

  /** The store's reachability changed (Store.onHealth); call once at start with `store.health().up`. */
  onStoreHealth(up: boolean): void {
    this.storeUp.set(up ? 1 : 0);
  }

  /** Where the routing table's view of `service` came from (RoutingTable.onUpdate). */
  onRoutingSource(service: string, source: RoutingSource): void {
    for (const each of ROUTING_SOURCES) this.routingSource.set({ service, source: each }, each === source ? 1 : 0);
  }

  /** This replica refuses the stored state of `service` (newer schema); the next accepted state clears it. */
  onSchemaRefused(service: string): void {
    this.introduce(service);
    this.schemaRefused.set({ service }, 1);
  }

  /** A transition this replica wrote, after the store accepted it (see `transitionKind`). */
  onTransition(service: string, kind: TransitionKind, actor: string): void {
    this.transitions[kind].inc({ service, actor });
  }

  /** A verdict of the analysis loop: counts its result and shows its `*Evidence` figures. */
  onVerdict(service: string, verdict: Verdict): void {
    this.introduce(service);
    this.verdicts.inc({ service, result: verdict.result });
    const tests = new Set<string>();
    for (const [name, value] of Object.entries(verdict.figures)) {
      if (!name.endsWith(EVIDENCE_SUFFIX) || name.length === EVIDENCE_SUFFIX.length || Number.isNaN(value)) continue;
      const test = name.slice(0, -EVIDENCE_SUFFIX.length);
      tests.add(test);
      this.evidence.set({ service, test }, value);
    }
    // A test the last verdict did not report has no current evidence.
    for (const test of this.evidenceTests.get(service) ?? []) if (!tests.has(test)) this.evidence.remove({ service, test });
    this.evidenceTests.set(service, tests);
  }

  /** A verdict of the analysis on a service's shadow. */
  onShadowVerdict(service: string, verdict: ShadowVerdict): void {
    const labels = { service, version: verdict.version };
    this.shadowVerdicts.inc({ ...labels, result: verdict.result });
    if (verdict.drift === null) return;
    this.shadowDrift.set(labels, verdict.drift.flagged ? 1 : 0);
    const rate = verdict.drift.figures.disagreementRate;
    if (rate !== undefined) this.shadowDisagreement.set(labels, rate);
  }

  /** This replica took (true) or lost (false) the analysis lease. */
  onLeader(isLeader: boolean): void {
    this.leader.set(isLeader ? 1 : 0);
    if (!isLeader) this.analysis.onLeaseLost();
  }

  /** The analysis began holding the service's rollout (the hold) or stopped (null); called on the lease holder. */
  onHold(service: string, hold: Hold | null): void {
    this.analysis.onHold(service, hold);
  }

  /** Judging the service failed this round; the round went on. */
  onAnalysisError(service: string): void {
    this.analysis.onError(service);
  }

  /** A round of the analysis loop ended on this replica. */
  onRound(round: AnalysisRound): void {
    this.analysis.onRound(round);
  }

  /** The text Prometheus scrapes, in `contentType`. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  /** Zeros for a service's bounded series, so the first increment shows in `increase()`. */
  private introduce(service: string): void {
    if (this.known.has(service)) return;
    this.known.add(service);
    for (const result of VERDICT_RESULTS) this.verdicts.inc({ service, result }, 0);
    this.schemaRefused.set({ service }, 0);
    this.analysis.introduce(service);
  }
}

/** The view holds overrides as last read; some may have expired since. */
function liveOverrides(pins: ReadonlyMap<string, Override>, now: number): { count: number; oldestAt: number | null } {
  let count = 0;
  let oldestAt: number | null = null;
  for (const pin of pins.values()) {
    if (!isLive(pin, now)) continue;
    count++;
    if (oldestAt === null || pin.createdAt < oldestAt) oldestAt = pin.createdAt;
  }
  return { count, oldestAt };
}
