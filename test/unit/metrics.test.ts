import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { RequestRecord } from '../../src/app/request-observer.js';
import type { ServiceView } from '../../src/app/routing-table.js';
import type { Override } from '../../src/core/override.js';
import { initialState, type RolloutState, type Verdict } from '../../src/core/rollout-state.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { RequestTally, statusClass } from '../../src/metrics/request-tally.js';
import { transitionKind } from '../../src/metrics/transition-kind.js';

const T0 = Date.UTC(2025, 0, 6, 10, 0, 0);

/** The value of the one sample `name` with exactly `labels` in an exposition; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const hits: number[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = new Map([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k!, v!.replace(/\\(.)/g, '$1')]));
    if (found.size === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => found.get(k) === v)) hits.push(Number(match[3]));
  }
  if (hits.length > 1) throw new Error(`${hits.length} samples of ${name} ${JSON.stringify(labels)}`);
  return hits[0];
}

function setup(): { metrics: Metrics; clock: { now(): number; advance(ms: number): void }; text(): Promise<string> } {
  let t = T0;
  const clock = { now: () => t, advance: (ms: number) => void (t += ms) };
  const metrics = new Metrics({ clock, processMetrics: false });
  return { metrics, clock, text: () => metrics.exposition() };
}

function request(patch: Partial<RequestRecord>): RequestRecord {
  return { service: 'fraud', version: 'v1', key: 'user-1', status: 200, outcome: 'ok', latencyMs: 20, ...patch };
}

function state(patch: Partial<RolloutState> = {}): RolloutState {
  const base = initialState({ service: 'fraud', stable: 'v1', strategy: 'canary', steps: [{ weightBp: 500, bakeMs: 60_000 }, { weightBp: 2500, bakeMs: 60_000 }], now: T0 });
  return { ...base, ...patch };
}

function pin(key: string, createdAt: number, expiresAt: number): Override {
  return { service: 'fraud', key, version: 'v2', reason: 'debugging', author: 'alice', createdAt, expiresAt };
}

function view(s: RolloutState, overrides: readonly Override[] = []): ServiceView {
  return { state: s, overrides: new Map(overrides.map((o) => [o.key, o])) };
}

function verdict(result: Verdict['result'], figures: Record<string, number>): Verdict {
  return { result, reason: 'test', at: T0, hold: false, checks: [], figures };
}

describe('requests (observe)', () => {
  it('counts requests by service, version and status class, with zeros for the classes not seen yet', async () => {
    const { metrics, text } = setup();
    for (const status of [200, 204, 302, 404, 499, 503]) metrics.observe(request({ status }));
    metrics.observe(request({ status: 0, outcome: 'connect' }));
    metrics.observe(request({ version: 'v2', status: 500, outcome: 'status' }));
    const out = await text();
    const v1 = (status_class: string) => sample(out, 'switchyard_requests_total', { service: 'fraud', version: 'v1', status_class });
    expect([v1('2xx'), v1('3xx'), v1('4xx'), v1('5xx'), v1('error')]).toEqual([2, 1, 2, 1, 1]);
    expect(v1('1xx')).toBeUndefined();
    expect(sample(out, 'switchyard_requests_total', { service: 'fraud', version: 'v2', status_class: '5xx' })).toBe(1);
    expect(sample(out, 'switchyard_requests_total', { service: 'fraud', version: 'v2', status_class: '2xx' })).toBe(0);
  });

  it('names status classes by the hundreds digit and anything outside 100..599 an error', () => {
    expect([0, 101, 200, 399, 499, 599, 600, -1, 250.5].map(statusClass)).toEqual(['error', '1xx', '2xx', '3xx', '4xx', '5xx', 'error', 'error', '2xx']);
  });

  it('counts upstream errors by kind, every kind exported from the first request', async () => {
    const { metrics, text } = setup();
    metrics.observe(request({ version: 'v2', status: 502, outcome: 'connect' }));
    metrics.observe(request({ version: 'v2', status: 504, outcome: 'timeout' }));
    metrics.observe(request({ version: 'v2', status: 504, outcome: 'timeout' }));
    metrics.observe(request({ version: 'v2', status: 503, outcome: 'status' }));
    metrics.observe(request({ version: 'v1' }));
    const out = await text();
    const kind = (version: string, k: string) => sample(out, 'switchyard_upstream_errors_total', { service: 'fraud', version, kind: k });
    expect([kind('v2', 'connect'), kind('v2', 'timeout'), kind('v2', 'status')]).toEqual([1, 2, 1]);
    expect([kind('v1', 'connect'), kind('v1', 'timeout'), kind('v1', 'status')]).toEqual([0, 0, 0]);
  });

  it('puts latencies in cumulative second buckets, a bound itself included, and sums them in seconds', async () => {
    const { metrics, text } = setup();
    for (const latencyMs of [3, 5, 7, 40, 45_000]) metrics.observe(request({ latencyMs }));
    const out = await text();
    const bucket = (le: string) => sample(out, 'switchyard_request_duration_seconds_bucket', { service: 'fraud', version: 'v1', le });
    expect([bucket('0.005'), bucket('0.01'), bucket('0.025'), bucket('0.05'), bucket('30'), bucket('+Inf')]).toEqual([2, 3, 3, 4, 4, 5]);
    expect(sample(out, 'switchyard_request_duration_seconds_count', { service: 'fraud', version: 'v1' })).toBe(5);
    expect(sample(out, 'switchyard_request_duration_seconds_sum', { service: 'fraud', version: 'v1' })).toBeCloseTo(45.055, 9);
  });

  it('counts a request whose latency is not a finite non-negative number but keeps it out of the histogram', async () => {
    const { metrics, text } = setup();
    metrics.observe(request({ latencyMs: Number.NaN }));
    metrics.observe(request({ latencyMs: -1 }));
    metrics.observe(request({ latencyMs: 10 }));
    const out = await text();
    expect(sample(out, 'switchyard_requests_total', { service: 'fraud', version: 'v1', status_class: '2xx' })).toBe(3);
    expect(sample(out, 'switchyard_request_duration_seconds_count', { service: 'fraud', version: 'v1' })).toBe(1);
    expect(sample(out, 'switchyard_request_duration_seconds_sum', { service: 'fraud', version: 'v1' })).toBe(0.01);
  });

  it('keeps one series per (service, version) and repeated scrapes show totals, not increments', async () => {
    const { metrics, text } = setup();
    metrics.observe(request({ service: 'ranker', version: 'blue' }));
    await text();
    metrics.observe(request({ service: 'ranker', version: 'blue' }));
    const out = await text();
    expect(sample(out, 'switchyard_requests_total', { service: 'ranker', version: 'blue', status_class: '2xx' })).toBe(2);
    expect(sample(out, 'switchyard_requests_total', { service: 'fraud', version: 'v1', status_class: '2xx' })).toBeUndefined();
  });

  it('refuses latency buckets that are not positive and increasing', () => {
    expect(() => new RequestTally([0.1, 0.1])).toThrow(RangeError);
    expect(() => new RequestTally([0, 1])).toThrow(RangeError);
    expect(() => new RequestTally([])).toThrow(RangeError);
    expect(new RequestTally([0.5, 1]).boundsSeconds).toEqual([0.5, 1]);
  });

  it('counts fallbacks by service, failing version and answering version', async () => {
    const { metrics, text } = setup();
    metrics.onFallback('fraud', 'v2', 'v1');
    metrics.onFallback('fraud', 'v2', 'v1');
    metrics.onFallback('fraud', 'v2', 'fallback-response');
    const out = await text();
    expect(sample(out, 'switchyard_fallbacks_total', { service: 'fraud', from: 'v2', to: 'v1' })).toBe(2);
    expect(sample(out, 'switchyard_fallbacks_total', { service: 'fraud', from: 'v2', to: 'fallback-response' })).toBe(1);
  });
});

describe('routing state (onState)', () => {
  it('shows the weight as a ratio and 1 for the current phase, 0 for every other', async () => {
    const { metrics, text } = setup();
    metrics.onState('fraud', view(state({ candidate: 'v2', weightBp: 500, phase: 'progressing' })));
    let out = await text();
    expect(sample(out, 'switchyard_candidate_weight_ratio', { service: 'fraud' })).toBe(0.05);
    const phases = (o: string) => ['stable', 'progressing', 'paused', 'promoted', 'rolled_back'].map((phase) => sample(o, 'switchyard_rollout_phase', { service: 'fraud', phase }));
    expect(phases(out)).toEqual([0, 1, 0, 0, 0]);
    metrics.onState('fraud', view(state({ candidate: 'v2', weightBp: 0, phase: 'rolled_back' })));
    out = await text();
    expect(sample(out, 'switchyard_candidate_weight_ratio', { service: 'fraud' })).toBe(0);
    expect(phases(out)).toEqual([0, 0, 0, 0, 1]);
  });

  it('names the stable and candidate versions in the info series, dropping the old label set on a change', async () => {
    const { metrics, text } = setup();
    metrics.onState('fraud', view(state()));
    expect(sample(await text(), 'switchyard_rollout_info', { service: 'fraud', stable: 'v1', candidate: '' })).toBe(1);
    metrics.onState('fraud', view(state({ candidate: 'v2', phase: 'progressing', weightBp: 500 })));
    const out = await text();
    expect(sample(out, 'switchyard_rollout_info', { service: 'fraud', stable: 'v1', candidate: 'v2' })).toBe(1);
    expect(sample(out, 'switchyard_rollout_info', { service: 'fraud', stable: 'v1', candidate: '' })).toBeUndefined();
  });

  it('counts live overrides and the oldest one\'s age at scrape time, leaving out those expired since', async () => {
    const { metrics, clock, text } = setup();
    metrics.onState('fraud', view(state(), [pin('a', T0 - 60_000, T0 + 30_000), pin('b', T0 - 10_000, T0 + 3_600_000)]));
    let out = await text();
    expect(sample(out, 'switchyard_overrides_active', { service: 'fraud' })).toBe(2);
    expect(sample(out, 'switchyard_override_oldest_age_seconds', { service: 'fraud' })).toBe(60);
    clock.advance(30_000);
    out = await text();
    expect(sample(out, 'switchyard_overrides_active', { service: 'fraud' })).toBe(1);
    expect(sample(out, 'switchyard_override_oldest_age_seconds', { service: 'fraud' })).toBe(40);
    metrics.onState('fraud', view(state()));
    out = await text();
    expect(sample(out, 'switchyard_overrides_active', { service: 'fraud' })).toBe(0);
    expect(sample(out, 'switchyard_override_oldest_age_seconds', { service: 'fraud' })).toBe(0);
  });
});

describe('held rollouts (switchyard_rollout_held)', () => {
  const WHYS = ['paused', 'sample-ratio', 'shadow-drift'];
  const held = (out: string, service = 'fraud') => WHYS.map((why) => sample(out, 'switchyard_rollout_held', { service, why }));
  const running = state({ candidate: 'v2', phase: 'progressing', weightBp: 500 });

  it('is 1 for paused while the state this replica routes on is paused, 0 for every reason otherwise', async () => {
    const { metrics, text } = setup();
    metrics.onState('fraud', view(running));
    expect(held(await text())).toEqual([0, 0, 0]);
    metrics.onState('fraud', view({ ...running, phase: 'paused', weightBp: 0 }));
    expect(held(await text())).toEqual([1, 0, 0]);
    metrics.onState('fraud', view(running));
    expect(held(await text())).toEqual([0, 0, 0]);
    metrics.onState('fraud', view({ ...running, phase: 'paused' }));
    metrics.onState('fraud', view({ ...running, phase: 'rolled_back', weightBp: 0 }));
    expect(held(await text())).toEqual([0, 0, 0]);
  });

  it("shows the analysis' hold by its kind, a new kind replacing the old one, until it ends", async () => {
    const { metrics, text } = setup();
    metrics.onState('fraud', view(running));
    metrics.onHold('fraud', { kind: 'sample-ratio', reason: 'candidate share 2% at weight 5%', since: T0 });
    expect(held(await text())).toEqual([0, 1, 0]);
    metrics.onHold('fraud', { kind: 'shadow-drift', reason: 'predictions drift', since: T0 + 5000 });
    expect(held(await text())).toEqual([0, 0, 1]);
    metrics.onHold('fraud', null);
    expect(held(await text())).toEqual([0, 0, 0]);
  });

  it('keeps pauses and holds apart, and stops reporting holds when this replica loses the lease', async () => {
    const { metrics, text } = setup();
    metrics.onLeader(true);
    metrics.onState('fraud', view({ ...running, phase: 'paused' }));
    metrics.onState('ranker', view(state({ service: 'ranker', candidate: 'v2', phase: 'progressing' })));
    metrics.onHold('ranker', { kind: 'shadow-drift', reason: 'predictions drift', since: T0 });
    let out = await text();
    expect(held(out)).toEqual([1, 0, 0]);
    expect(held(out, 'ranker')).toEqual([0, 0, 1]);
    metrics.onLeader(false);
    out = await text();
    // The pause is in the state every replica routes on; the hold was only this replica's judgement.
    expect(held(out)).toEqual([1, 0, 0]);
    expect(held(out, 'ranker')).toEqual([0, 0, 0]);
  });
});

describe('store health', () => {
  it('shows whether the store is reachable', async () => {
    const { metrics, text } = setup();
    metrics.onStoreHealth(false);
    expect(sample(await text(), 'switchyard_store_up')).toBe(0);
    metrics.onStoreHealth(true);
    expect(sample(await text(), 'switchyard_store_up')).toBe(1);
  });

  it('flags a refused schema until the routing table accepts a state of that service again', async () => {
    const { metrics, text } = setup();
    metrics.onState('fraud', view(state()));
    expect(sample(await text(), 'switchyard_store_schema_refused', { service: 'fraud' })).toBe(0);
    metrics.onSchemaRefused('fraud');
    expect(sample(await text(), 'switchyard_store_schema_refused', { service: 'fraud' })).toBe(1);
    metrics.onState('fraud', view(state({ revision: 2 })));
    expect(sample(await text(), 'switchyard_store_schema_refused', { service: 'fraud' })).toBe(0);
  });
});

describe('transitions', () => {
  it('counts rollbacks, promotions and step changes by service and actor', async () => {
    const { metrics, text } = setup();
    metrics.onTransition('fraud', 'rollback', 'analysis');
    metrics.onTransition('fraud', 'rollback', 'alertmanager');
    metrics.onTransition('fraud', 'rollback', 'analysis');
    metrics.onTransition('fraud', 'promote', 'alice');
    metrics.onTransition('fraud', 'step', 'analysis');
    const out = await text();
    expect(sample(out, 'switchyard_rollbacks_total', { service: 'fraud', actor: 'analysis' })).toBe(2);
    expect(sample(out, 'switchyard_rollbacks_total', { service: 'fraud', actor: 'alertmanager' })).toBe(1);
    expect(sample(out, 'switchyard_promotions_total', { service: 'fraud', actor: 'alice' })).toBe(1);
    expect(sample(out, 'switchyard_step_changes_total', { service: 'fraud', actor: 'analysis' })).toBe(1);
  });

  it('tells the kind of a stored transition from its states', () => {
    const running = state({ candidate: 'v2', phase: 'progressing', weightBp: 500, stepIndex: 0 });
    const kind = (action: string, before: RolloutState, after: RolloutState) => transitionKind({ action, before, after });
    expect(kind('advance', running, { ...running, stepIndex: 1, weightBp: 2500 })).toBe('step');
    expect(kind('advance', { ...running, stepIndex: 1 }, { ...running, stable: 'v2', candidate: null, phase: 'promoted', weightBp: 0 })).toBe('promote');
    expect(kind('promote', running, { ...running, stable: 'v2', candidate: null, phase: 'promoted' })).toBe('promote');
    expect(kind('rollback', running, { ...running, phase: 'rolled_back', weightBp: 0 })).toBe('rollback');
    expect(kind('set-weight', running, { ...running, weightBp: 1000 })).toBe('step');
    const promoted = state({ stable: 'v2', previous: 'v1', phase: 'promoted' });
    expect(kind('switch', promoted, { ...promoted, stable: 'v1', previous: 'v2', phase: 'stable' })).toBe('rollback');
    expect(kind('start', state(), running)).toBeNull();
    expect(kind('pause', running, { ...running, phase: 'paused' })).toBeNull();
  });
});

describe('analysis', () => {
  it('counts verdicts by result, with zeros for the results not reached yet', async () => {
    const { metrics, text } = setup();
    metrics.onVerdict('fraud', verdict('inconclusive', {}));
    metrics.onVerdict('fraud', verdict('fail', {}));
    metrics.onVerdict('fraud', verdict('fail', {}));
    const out = await text();
    const result = (r: string) => sample(out, 'switchyard_analysis_verdicts_total', { service: 'fraud', result: r });
    expect([result('pass'), result('fail'), result('inconclusive')]).toEqual([0, 2, 1]);
  });

  it('shows every *Evidence figure of the last verdict by test, and drops a test the last verdict left out', async () => {
    const { metrics, text } = setup();
    metrics.onVerdict('fraud', verdict('inconclusive', { errorEvidence: 3.5, latencyEvidence: 1.25, errorRate: 0.04, canaryEvents: 120 }));
    let out = await text();
    expect(sample(out, 'switchyard_analysis_evidence', { service: 'fraud', test: 'error' })).toBe(3.5);
    expect(sample(out, 'switchyard_analysis_evidence', { service: 'fraud', test: 'latency' })).toBe(1.25);
    expect(out).not.toMatch(/switchyard_analysis_evidence\{[^}]*test="(errorRate|canaryEvents|)"/);
    metrics.onVerdict('fraud', verdict('fail', { errorEvidence: 142, latencyEvidence: Number.NaN, exceedanceEvidence: 7 }));
    out = await text();
    expect(sample(out, 'switchyard_analysis_evidence', { service: 'fraud', test: 'error' })).toBe(142);
    expect(sample(out, 'switchyard_analysis_evidence', { service: 'fraud', test: 'exceedance' })).toBe(7);
    expect(sample(out, 'switchyard_analysis_evidence', { service: 'fraud', test: 'latency' })).toBeUndefined();
  });

  it('counts services the analysis failed to judge, from 0 for every service it routes', async () => {
    const { metrics, text } = setup();
    metrics.onState('fraud', view(state()));
    metrics.onState('ranker', view(state({ service: 'ranker' })));
    expect(sample(await text(), 'switchyard_analysis_errors_total', { service: 'fraud' })).toBe(0);
    metrics.onAnalysisError('fraud');
    metrics.onAnalysisError('fraud');
    const out = await text();
    expect(sample(out, 'switchyard_analysis_errors_total', { service: 'fraud' })).toBe(2);
    expect(sample(out, 'switchyard_analysis_errors_total', { service: 'ranker' })).toBe(0);
  });

  it('puts round durations in second buckets from 1 ms to 30 s and shows the services of the last round', async () => {
    const { metrics, text } = setup();
    expect(sample(await text(), 'switchyard_analysis_round_services')).toBe(0);
    for (const durationMs of [0.4, 3, 800, 45_000]) metrics.onRound({ durationMs, services: 12, failed: 0 });
    metrics.onRound({ durationMs: 20, services: 7, failed: 1 });
    const out = await text();
    const bucket = (le: string) => sample(out, 'switchyard_analysis_round_seconds_bucket', { le });
    expect([bucket('0.001'), bucket('0.005'), bucket('0.025'), bucket('1'), bucket('30'), bucket('+Inf')]).toEqual([1, 2, 3, 4, 4, 5]);
    expect(sample(out, 'switchyard_analysis_round_seconds_count')).toBe(5);
    expect(sample(out, 'switchyard_analysis_round_services')).toBe(7);
  });

  it('shows whether this replica holds the analysis lease', async () => {
    const { metrics, text } = setup();
    expect(sample(await text(), 'switchyard_analysis_leader')).toBe(0);
    metrics.onLeader(true);
    expect(sample(await text(), 'switchyard_analysis_leader')).toBe(1);
    metrics.onLeader(false);
    expect(sample(await text(), 'switchyard_analysis_leader')).toBe(0);
  });
});

describe('registry', () => {
  it('keeps its metrics on its own registry: two instances coexist and the global registry stays empty', async () => {
    const a = new Metrics({ clock: { now: () => T0 } });
    const b = new Metrics({ clock: { now: () => T0 } });
    a.observe(request({}));
    expect(sample(await a.exposition(), 'switchyard_requests_total', { service: 'fraud', version: 'v1', status_class: '2xx' })).toBe(1);
    expect(sample(await b.exposition(), 'switchyard_requests_total', { service: 'fraud', version: 'v1', status_class: '2xx' })).toBeUndefined();
    expect(await b.exposition()).toMatch(/^process_cpu_seconds_total /m);
    expect(await globalRegistry.metrics()).not.toMatch(/switchyard_|process_cpu/);
  });

  it('serves the Prometheus text format content type', () => {
    expect(setup().metrics.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  });
});
