import type { Verdict, VerdictCheck, VerdictResult } from '../rollout-state.js';
import type { AbsoluteGuard } from './absolute-guard.js';
import type { AnalysisConfig } from './config.js';
import { logEvidence } from './e-process.js';
import { combinedLog, COMPONENTS, componentLogs, componentWeights, latencyMeanTest, leadingComponent, type Component, type EvidenceState } from './evidence.js';
import type { AnalysisInput } from './input.js';
import { LATENCY_QUANTILES, quantileMs, type MsprtResult } from './latency-test.js';
import type { SampleRatio } from './sample-ratio.js';
import { latencyValue } from './window.js';

/** Everything a verdict is made of, computed by the detector. */
export interface VerdictParts {
  readonly input: AnalysisInput;
  readonly config: AnalysisConfig;
  readonly state: EvidenceState;
  readonly guard: AbsoluteGuard;
  readonly ratio: SampleRatio;
}

interface Parts extends VerdictParts {
  /** Per quantile (p50, p90, p99): thresholds, quantiles and exceedances, or null before the thresholds are fixed. */
  readonly quantiles: ReadonlyArray<QuantileFigures | null>;
}

const QUANTILE_NAMES = ['p50', 'p90', 'p99'] as const;

/**
 * Fail (absolute guard, or evidence ≥ 1/α at any bucket so far) comes first;
 * then a sample-ratio mismatch holds; then too little data is inconclusive
 * (never a pass, STYLE.md); otherwise pass.
 */
export function buildVerdict(parts: VerdictParts): Verdict {
  const p: Parts = { ...parts, quantiles: QUANTILE_NAMES.map((_, q) => quantileFigures(parts.state, q)) };
  const { result, hold, reason } = decide(p);
  return { result, reason, at: p.input.now, hold, checks: checks(p), figures: figures(p) };
}

function decide(p: Parts): { result: VerdictResult; hold: boolean; reason: string } {
  const { state: s, config: c, guard, ratio } = p;
  if (guard.fail && guard.ratio !== null) {
    const reason = `candidate error ratio ${pct(guard.ratio)} over the last ${seconds(c.absoluteWindowMs)} (${guard.errors} of ${guard.requests} requests failed) ≥ ${pct(c.absoluteErrorRate)}`;
    return { result: 'fail', hold: false, reason };
  }
  const threshold = 1 / c.alpha;
  if (s.crossedAtMs !== null) {
    return { result: 'fail', hold: false, reason: `${describe(p, s.crossedBy ?? 'errors')} (evidence ${num(Math.exp(s.peakCombinedLog))} ≥ ${num(threshold)})` };
  }
  const weights = componentWeights(c);
  const logs = componentLogs(s, c, false);
  const now = Math.exp(combinedLog(logs, weights));
  const evidence = `evidence ${num(now)} ${now >= threshold ? '≥' : '<'} ${num(threshold)}`;
  if (ratio.mismatch) {
    const reason = `candidate share of requests ${pct(ratio.observedShare ?? 0)} vs weight ${pct(ratio.expectedShare ?? 0)} over the last ${seconds(c.srmWindowMs)} (p = ${num(ratio.pValue ?? 0)}): stale replicas or a broken split? holding`;
    return { result: 'inconclusive', hold: true, reason };
  }
  if (s.candidate.requests === 0) return { result: 'inconclusive', hold: false, reason: 'no candidate requests yet' };
  if (s.candidate.requests < c.minCandidateRequests) {
    const reason = `too few candidate requests: ${s.candidate.requests} of ${c.minCandidateRequests} needed (${describe(p, 'errors')}, ${evidence})`;
    return { result: 'inconclusive', hold: false, reason };
  }
  const skipped = s.saturatedBuckets === 0 ? '' : `; latency not judged in ${s.saturatedBuckets} bucket(s) where the gateway itself was saturated`;
  if (s.latency !== null && s.latency.thresholdKeys === null) {
    const reason = `latency thresholds not fixed yet: ${s.latency.poolCount} of ${c.latencyBaselineMinRequests} stable requests (${evidence})${skipped}`;
    return { result: 'inconclusive', hold: false, reason };
  }
  if (now >= threshold) {
    const reason = `${describe(p, leadingComponent(logs, weights))} (${evidence}, but fewer than ${c.minCandidateEvents} candidate events or ${c.msprtBurnIn} requests for the mean test yet)`;
    return { result: 'inconclusive', hold: false, reason };
  }
  const latency = s.latency === null ? '' : `, ${describe(p, 'latencyP99')}${skipped}`;
  return { result: 'pass', hold: false, reason: `no regression: ${describe(p, 'errors')}${latency} (${evidence})` };
}

/** One phrase per component: the figures an operator compares. */
function describe(p: Parts, component: Component): string {
  const { state: s, config } = p;
  if (component === 'errors') return `candidate error rate ${pctOf(s.candidate.errors, s.candidate.requests)} vs stable ${pctOf(s.stable.errors, s.stable.requests)}`;
  if (component === 'latencyMean') {
    const m = latencyMeanTest(s, config);
    return m === null ? 'candidate latency not measured yet' : `candidate geometric-mean latency ${m.ratio.toFixed(2)}× stable`;
  }
  const q = COMPONENTS.indexOf(component) - 1;
  const l = p.quantiles[q];
  if (l === null || l === undefined) return 'latency not judged yet';
  return `candidate ${QUANTILE_NAMES[q]} latency ${ms(l.candidateMs)} vs stable ${ms(l.stableMs)}, ${pctOf(l.candidateAbove, l.candidateN)} vs ${pctOf(l.stableAbove, l.stableN)} of requests above ${ms(l.thresholdMs)}`;
}

interface QuantileFigures {
  readonly thresholdMs: number;
  readonly candidateMs: number | null;
  readonly stableMs: number | null;
  readonly candidateAbove: number;
  readonly stableAbove: number;
  readonly candidateN: number;
  readonly stableN: number;
}

function quantileFigures(s: EvidenceState, q: number): QuantileFigures | null {
  const l = s.latency;
  const keys = l?.thresholdKeys;
  if (l === null || l === undefined || keys === null || keys === undefined) return null;
  const quantile = LATENCY_QUANTILES[q] as number;
  return {
    thresholdMs: latencyValue(keys[q] as number),
    candidateMs: quantileMs(l.candidateHist, quantile, l.candidateLog.n),
    stableMs: quantileMs(l.stableHist, quantile, l.stableLog.n),
    candidateAbove: l.candidateAbove[q] as number,
    stableAbove: l.stableAbove[q] as number,
    candidateN: l.candidateLog.n,
    stableN: l.stableLog.n,
  };
}

function checks(p: Parts): VerdictCheck[] {
  const { state: s, config: c, guard, ratio } = p;
  const weights = componentWeights(c);
  const out: VerdictCheck[] = [
    {
      name: 'candidate requests',
      value: s.candidate.requests,
      threshold: c.minCandidateRequests,
      result: s.candidate.requests >= c.minCandidateRequests ? 'pass' : 'inconclusive',
      detail: `${s.candidate.requests} candidate and ${s.stable.requests} stable requests in ${s.buckets} buckets since the rollout started`,
      meaning: s.candidate.requests >= c.minCandidateRequests ? 'enough candidate traffic to judge' : 'too little candidate traffic to judge yet: nothing can pass',
    },
    {
      name: 'absolute error ratio',
      value: guard.ratio,
      threshold: c.absoluteErrorRate,
      result: guard.ratio === null ? 'inconclusive' : guard.fail ? 'fail' : 'pass',
      detail: `${guard.errors} of ${guard.requests} candidate requests failed over the last ${seconds(c.absoluteWindowMs)}${c.dedupByKey ? ' (retries of a failing key counted once)' : ''}; judged from ${c.absoluteMinRequests} requests`,
      meaning: guard.ratio === null ? 'too few recent candidate requests to judge' : guard.fail ? 'the candidate fails so often it is rolled back whatever stable does' : 'the candidate is not failing catastrophically',
    },
  ];
  COMPONENTS.forEach((component, i) => {
    if (weights[i] === 0 && component !== 'errors') return;
    out.push(componentCheck(p, component, i, weights[i] as number));
  });
  out.push({
    name: 'evidence',
    value: finite(Math.exp(s.peakCombinedLog)),
    threshold: 1 / c.alpha,
    result: s.crossedAtMs !== null ? 'fail' : 'pass',
    detail: `peak since the rollout started of the weighted average of the e-processes above, each counted once its guard is met (now, before guards: ${num(Math.exp(currentCombinedLog(p)))}); fails at 1/α, α = ${c.alpha}`,
    meaning: s.crossedAtMs !== null ? 'the evidence against the candidate reached the rollback threshold' : `evidence ${num(Math.exp(s.peakCombinedLog))} of the ${num(1 / c.alpha)} that roll back: no sign of regression`,
  });
  out.push({
    name: 'sample ratio',
    value: ratio.pValue,
    threshold: c.srmAlpha,
    result: ratio.pValue === null || ratio.mismatch ? 'inconclusive' : 'pass',
    detail: `candidate share ${pct(ratio.observedShare ?? 0)} vs expected ${pct(ratio.expectedShare ?? 0)} over ${ratio.requests} requests in the last ${seconds(c.srmWindowMs)}; holds below p = ${c.srmAlpha} and beyond ±${pct(c.srmTolerance)}`,
    meaning: ratio.mismatch ? 'the candidate gets a different share of requests than its weight: stale replicas or a broken split; the rollout is held' : 'the candidate gets the share of requests its weight asks for',
  });
  return out;
}

function componentCheck(p: Parts, component: Component, i: number, weight: number): VerdictCheck {
  const { state: s, config: c } = p;
  const threshold = 1 / (c.alpha * weight);
  const failed = (s.peakLog[i] as number) >= Math.log(threshold);
  if (component === 'latencyMean') {
    const m = latencyMeanTest(s, c);
    const n = s.latency?.candidateLog.n ?? 0;
    return {
      name: 'latency mean evidence (mSPRT)',
      value: m === null ? null : oneSided(m),
      threshold,
      result: failed ? 'fail' : n < c.msprtBurnIn ? 'inconclusive' : 'pass',
      detail: `${describe(p, component)}; counts only when slower than ${num(c.msprtMargin)}× after ${c.msprtBurnIn} candidate requests (${n} so far)`,
      meaning: failed ? 'the candidate is slower than stable on average' : n < c.msprtBurnIn ? 'too few candidate requests to compare mean latency yet' : 'no sign that the candidate is slower on average',
    };
  }
  const process = component === 'errors' ? s.errors : s.latency?.exceed[i - 1];
  const events = process?.candidateEvents ?? 0;
  const unit = component === 'errors' ? (c.dedupByKey ? 'failing keys' : 'errors') : 'exceedances';
  return {
    name: component === 'errors' ? 'error evidence' : `latency ${QUANTILE_NAMES[i - 1]} exceedance evidence`,
    value: process === undefined ? null : finite(Math.exp(logEvidence(process))),
    threshold,
    result: failed ? 'fail' : events < c.minCandidateEvents ? 'inconclusive' : 'pass',
    detail: `${describe(p, component)}; ${events} candidate ${unit} (${c.minCandidateEvents} needed); alone it fails at 1/(α·${num(weight)})${thresholdSource(s, component)}`,
    meaning: failed ? `the candidate ${component === 'errors' ? 'fails more often' : 'is slow more often'} than stable` : events < c.minCandidateEvents ? `too few candidate ${unit} to judge yet` : 'no sign of regression',
  };
}

function thresholdSource(s: EvidenceState, component: Component): string {
  const source = s.latency?.thresholdSource;
  if (component === 'errors' || source === null || source === undefined) return '';
  return source === 'baseline' ? '; threshold from the pre-rollout baseline' : "; threshold from stable's first requests of the rollout";
}

function currentCombinedLog(p: Parts): number {
  return combinedLog(componentLogs(p.state, p.config, false), componentWeights(p.config));
}

function figures(p: Parts): Record<string, number> {
  const { state: s, config: c, guard, ratio } = p;
  const f: Record<string, number> = {};
  const put = (name: string, value: number | null | undefined) => {
    if (value !== null && value !== undefined && Number.isFinite(value)) f[name] = value;
  };
  put('buckets', s.buckets);
  put('saturatedBuckets', s.saturatedBuckets);
  for (const [arm, t] of [['candidate', s.candidate], ['stable', s.stable]] as const) {
    put(`${arm}Requests`, t.requests);
    put(`${arm}Errors`, t.errors);
    put(`${arm}FailingKeys`, t.failingKeys);
    put(`${arm}ErrorRate`, t.requests > 0 ? t.errors / t.requests : null);
  }
  const stableRate = s.stable.requests > 0 ? s.stable.errors / s.stable.requests : 0;
  put('errorRateRatio', s.candidate.requests > 0 && stableRate > 0 ? s.candidate.errors / s.candidate.requests / stableRate : null);
  put('errorEvidence', Math.exp(logEvidence(s.errors)));
  s.latency?.exceed.forEach((e, q) => put(`latency${QUANTILE_NAMES[q]?.toUpperCase()}Evidence`, s.latency?.thresholdKeys ? Math.exp(logEvidence(e)) : null));
  QUANTILE_NAMES.forEach((name, q) => {
    const l = p.quantiles[q];
    put(`threshold${name.toUpperCase()}Ms`, l?.thresholdMs);
    put(`candidate${name.toUpperCase()}Ms`, l?.candidateMs);
    put(`stable${name.toUpperCase()}Ms`, l?.stableMs);
    put(`${name}Ratio`, l?.candidateMs && l.stableMs ? l.candidateMs / l.stableMs : null);
    put(`candidateAbove${name.toUpperCase()}`, l?.candidateAbove);
    put(`stableAbove${name.toUpperCase()}`, l?.stableAbove);
  });
  const m = latencyMeanTest(s, c);
  put('latencyMeanRatio', m?.ratio);
  put('latencyMeanEvidence', m === null ? null : oneSided(m));
  put('evidence', Math.exp(currentCombinedLog(p)));
  put('peakEvidence', finite(Math.exp(s.peakCombinedLog)));
  put('logPeakEvidence', s.peakCombinedLog);
  put('evidenceThreshold', 1 / c.alpha);
  put('absoluteErrorRatio', guard.ratio);
  put('candidateShare', ratio.observedShare);
  put('expectedShare', ratio.expectedShare);
  put('sampleRatioPValue', ratio.pValue);
  return f;
}

/** The mSPRT mixture is two-sided; only a slower candidate counts as evidence against it (§2.2B). */
function oneSided(m: MsprtResult): number {
  return m.delta > 0 ? finite(Math.exp(m.logLambda)) : 0;
}

/** Evidence can overflow a double; the verdict shows the largest finite value instead. */
function finite(x: number): number {
  return Number.isFinite(x) ? x : Number.MAX_VALUE;
}

function num(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '0';
  if (x !== 0 && (Math.abs(x) >= 1e6 || Math.abs(x) < 1e-3)) return x.toExponential(1);
  if (Math.abs(x) >= 100) return String(Math.round(x));
  return String(Number(x.toPrecision(x >= 10 ? 3 : 2)));
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x !== 0 && x < 0.001 ? 2 : 1)}%`;
}

function pctOf(part: number, whole: number): string {
  return whole > 0 ? pct(part / whole) : 'n/a';
}

function ms(x: number | null): string {
  return x === null ? 'n/a' : `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`;
}

function seconds(durationMs: number): string {
  return durationMs % 60_000 === 0 ? `${durationMs / 60_000} min` : `${durationMs / 1000} s`;
}
