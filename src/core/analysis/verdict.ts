import type { Verdict, VerdictCheck, VerdictResult } from '../rollout-state.js';
import { MAX_WEIGHT_BP } from '../weight.js';
import type { AbsoluteGuard } from './absolute-guard.js';
import type { AnalysisConfig } from './config.js';
import { combinedLog, COMPONENTS, componentLogs, componentWeights, latencyMeanTest, leadingComponent, type Component, type EvidenceState } from './evidence.js';
import type { AnalysisInput } from './input.js';
import { LATENCY_QUANTILES, quantileMs } from './latency-test.js';
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
  readonly weights: readonly number[];
  /** ln E now of each component, before the guards (what an operator watches grow). */
  readonly logsNow: readonly number[];
  readonly threshold: number;
}

const QUANTILE_NAMES = ['p50', 'p90', 'p99'] as const;

/**
 * Fail (absolute guard, or evidence ≥ 1/α at any bucket so far) comes first;
 * then a sample-ratio mismatch holds; then a pass needs every enabled test to
 * have judged the candidate at its current weight with its minimum data, else
 * the verdict is inconclusive (no data is never a pass). At 100 % there is no
 * stable traffic to compare with: only the absolute guard and the evidence of
 * the earlier steps judge, and the verdict says so.
 */
export function buildVerdict(parts: VerdictParts): Verdict {
  const weights = componentWeights(parts.config);
  const p: Parts = {
    ...parts,
    quantiles: QUANTILE_NAMES.map((_, q) => quantileFigures(parts.state, q)),
    weights,
    logsNow: componentLogs(parts.state, parts.config, false),
    threshold: 1 / parts.config.alpha,
  };
  const { result, hold, reason } = decide(p);
  return { result, reason, at: p.input.now, hold, checks: checks(p), figures: figures(p) };
}

interface Decision {
  readonly result: VerdictResult;
  readonly hold: boolean;
  readonly reason: string;
}

const inconclusive = (reason: string): Decision => ({ result: 'inconclusive', hold: false, reason });

function decide(p: Parts): Decision {
  const { state: s, config: c, guard, ratio } = p;
  if (guard.fail && guard.ratio !== null) {
    const reason = `candidate error ratio ${pct(guard.ratio)} over the last ${seconds(c.absoluteWindowMs)} (${guard.errors} of ${guard.requests} requests failed) ≥ ${pct(c.absoluteErrorRate)}`;
    return { result: 'fail', hold: false, reason };
  }
  if (s.crossedAtMs !== null) {
    return { result: 'fail', hold: false, reason: `${describe(p, s.crossedBy ?? 'errors')} (evidence ${num(Math.exp(s.peakCombinedLog))} ≥ ${num(p.threshold)})` };
  }
  if (ratio.mismatch) {
    const reason = `candidate share of requests ${pct(ratio.observedShare ?? 0)} vs weight ${pct(ratio.expectedShare ?? 0)} over the last ${seconds(c.srmWindowMs)} (p = ${num(ratio.pValue ?? 0)}): stale replicas or a broken split? holding`;
    return { result: 'inconclusive', hold: true, reason };
  }
  const at = `weight ${weightText(p.input.weightBp)}`;
  if (p.input.weightBp === 0) return inconclusive('the candidate has weight 0: no live traffic to judge');
  if (p.input.weightBp >= MAX_WEIGHT_BP) return fullWeight(p);
  if (s.segment.comparedRequests === 0) return inconclusive(`no candidate requests compared with stable at ${at} yet`);
  if (s.segment.comparedRequests < c.minCandidateRequests) {
    return inconclusive(`too few candidate requests at ${at}: ${s.segment.comparedRequests} of ${c.minCandidateRequests} needed (${describe(p, 'errors')}, ${against(p)})`);
  }
  const latency = latencyUnjudged(p, at);
  if (latency !== null) return inconclusive(latency);
  if (Math.exp(combinedLog(p.logsNow, p.weights)) >= p.threshold) {
    const reason = `${describe(p, leadingComponent(p.logsNow, p.weights))} (${against(p)}, but fewer than ${c.minCandidateEvents} candidate events or ${c.msprtBurnIn} requests for the mean test yet)`;
    return inconclusive(reason);
  }
  const latencyText = s.latency === null ? '' : `, ${describe(p, 'latencyMean')}, ${describe(p, 'latencyP99')}${saturation(s)}`;
  return { result: 'pass', hold: false, reason: `no sign of regression at ${at}: ${describe(p, 'errors')}${latencyText}; ${against(p)}` };
}

/**
 * Why the latency tests have not judged the candidate at this weight yet, or
 * null when they have. The warm-up after a weight change is folded into the
 * step: its bake may end first, but the step does not pass before its latency
 * is judged.
 */
function latencyUnjudged(p: Parts, at: string): string | null {
  const { state: s, config: c, input } = p;
  const l = s.latency;
  if (l === null) return null;
  if (l.thresholdKeys === null) {
    return `latency thresholds not fixed yet: ${l.poolCount} of ${c.latencyBaselineMinRequests} stable requests (${against(p)})${saturation(s)}`;
  }
  if (s.segment.judgedLatencies < c.minCandidateRequests) {
    const warming = s.lastBucketMs === null || s.lastBucketMs < s.warmupUntilMs;
    const left = Math.max(0, Math.ceil((s.warmupUntilMs - input.now) / 1000));
    const why = warming
      ? `latency warm-up after the candidate's weight changed: judged from ${left} s from now, and a step does not pass before its latency is judged`
      : `${s.segment.judgedLatencies} of ${c.minCandidateRequests} candidate latencies judged at ${at}`;
    return `${why} (${describe(p, 'errors')}, ${against(p)})${saturation(s)}`;
  }
  if (l.means.candidateN < c.msprtBurnIn) {
    return `${l.means.candidateN} of ${c.msprtBurnIn} candidate requests the mean latency test needs (${against(p)})${saturation(s)}`;
  }
  return null;
}

/** A 100 % step: nothing to compare with, so the absolute guard and the earlier steps' evidence decide. */
function fullWeight(p: Parts): Decision {
  const { state: s, config: c, guard } = p;
  const guardText = `${guard.errors} of ${guard.requests} candidate requests failed over the last ${seconds(c.absoluteWindowMs)}, rollback at ${pct(c.absoluteErrorRate)}`;
  if (guard.ratio === null) return inconclusive(`100 % step, no stable traffic to compare with: too few recent candidate requests for the absolute error guard (${guardText})`);
  const earlier = s.comparedRequests === 0
    ? 'no earlier step compared the candidate with stable'
    : `the evidence of the earlier steps stands (${s.comparedRequests} candidate requests compared; ${against(p)})`;
  return { result: 'pass', hold: false, reason: `100 % step, no stable traffic to compare with: judged by the absolute error guard (${guardText}) and ${earlier}; latency is not judged without stable traffic` };
}

/** "evidence against the candidate 1.3 (rollback at 100)": the figure and what it is compared with, in one phrase. */
function against(p: Parts): string {
  return `evidence against the candidate ${num(Math.exp(combinedLog(p.logsNow, p.weights)))}, rollback at ${num(p.threshold)}`;
}

function saturation(s: EvidenceState): string {
  return s.saturatedBuckets === 0 ? '' : `; latency not judged in ${s.saturatedBuckets} bucket(s) where the gateway itself was saturated`;
}

/** One phrase per component: the figures an operator compares. */
function describe(p: Parts, component: Component): string {
  const { state: s, config } = p;
  if (component === 'errors') return `candidate error rate ${pctOf(s.candidate.errors, s.candidate.requests)} vs stable ${pctOf(s.stable.errors, s.stable.requests)}`;
  if (component === 'latencyMean') {
    const m = latencyMeanTest(s, config);
    return m === null ? 'candidate latency not compared yet' : `candidate geometric-mean latency ${m.ratio.toFixed(2)}× stable's at the same times`;
  }
  const q = COMPONENTS.indexOf(component) - 1;
  const l = p.quantiles[q];
  if (l === null || l === undefined) return 'latency not judged yet';
  const name = QUANTILE_NAMES[q] as string;
  return `candidate ${name} latency ${ms(l.candidateMs)} vs stable ${ms(l.stableMs)}, ${pctOf(l.candidateAbove, l.candidateN)} vs ${pctOf(l.stableAbove, l.stableN)} of requests above ${ms(l.thresholdMs)}`;
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

/** Candidate against stable standardised to the candidate's share: both over the same moments. */
function quantileFigures(s: EvidenceState, q: number): QuantileFigures | null {
  const l = s.latency;
  const keys = l?.thresholdKeys;
  if (l === null || l === undefined || keys === null || keys === undefined) return null;
  const quantile = LATENCY_QUANTILES[q] as number;
  const n = l.means.candidateN;
  return {
    thresholdMs: latencyValue(keys[q] as number),
    candidateMs: quantileMs(l.candidateHist, quantile, n),
    stableMs: quantileMs(l.stableHist, quantile),
    candidateAbove: l.candidateAbove[q] as number,
    stableAbove: l.stableAbove[q] as number,
    candidateN: n,
    stableN: n,
  };
}

function checks(p: Parts): VerdictCheck[] {
  const { config: c } = p;
  const out: VerdictCheck[] = [requestsCheck(p), guardCheck(p)];
  COMPONENTS.forEach((component, i) => {
    if (p.weights[i] === 0 && component !== 'errors') return;
    out.push(componentCheck(p, component, i, p.weights[i] as number));
  });
  if (c.latencyEnabled) out.push(latencyJudgedCheck(p));
  out.push(evidenceCheck(p), ratioCheck(p));
  return out;
}

function requestsCheck(p: Parts): VerdictCheck {
  const { state: s, config: c, input } = p;
  const full = input.weightBp >= MAX_WEIGHT_BP;
  const enough = s.segment.comparedRequests >= c.minCandidateRequests;
  return {
    name: 'candidate requests at this weight',
    value: s.segment.comparedRequests,
    threshold: c.minCandidateRequests,
    result: enough && !full ? 'pass' : 'inconclusive',
    detail: `${s.segment.comparedRequests} candidate requests in seconds when stable was served too, at weight ${weightText(input.weightBp)}; ${s.candidate.requests} candidate and ${s.stable.requests} stable requests in ${s.buckets} buckets since the rollout started`,
    meaning: full
      ? 'at 100 % no stable traffic is left to compare with: the absolute guard and the earlier steps judge'
      : enough ? 'enough candidate traffic at this weight to judge it' : 'too little candidate traffic at this weight yet: the step cannot pass',
  };
}

function guardCheck(p: Parts): VerdictCheck {
  const { config: c, guard } = p;
  return {
    name: 'absolute error ratio',
    value: guard.ratio,
    threshold: c.absoluteErrorRate,
    result: guard.ratio === null ? 'inconclusive' : guard.fail ? 'fail' : 'pass',
    detail: `${guard.errors} of ${guard.requests} candidate requests failed over the last ${seconds(c.absoluteWindowMs)}${c.dedupByKey ? ' (retries of a failing key counted once)' : ''}; judged from ${c.absoluteMinRequests} requests`,
    meaning: guard.ratio === null
      ? 'too few recent candidate requests to judge'
      : guard.fail ? 'the candidate fails so often it is rolled back, whatever stable does' : 'the candidate is not failing wholesale',
  };
}

function componentCheck(p: Parts, component: Component, i: number, weight: number): VerdictCheck {
  const { state: s, config: c } = p;
  const threshold = 1 / (c.alpha * weight);
  const failed = (s.peakLog[i] as number) >= Math.log(threshold);
  const value = finite(Math.exp(p.logsNow[i] as number));
  const alone = `evidence ${num(value)} of the ${num(threshold)} that roll back on this test alone`;
  if (component === 'latencyMean') {
    const n = s.latency?.means.candidateN ?? 0;
    return {
      name: 'latency mean evidence',
      value: latencyMeanTest(s, c) === null ? null : value,
      threshold,
      result: failed ? 'fail' : n < c.msprtBurnIn ? 'inconclusive' : 'pass',
      detail: `${describe(p, component)}; each time bucket compares the two versions' mean log-latency; counts only when the candidate is slower than ${c.msprtMargin}×, after ${c.msprtBurnIn} candidate requests (${n} so far)`,
      meaning: failed
        ? 'the candidate is slower than stable on average'
        : n < c.msprtBurnIn ? 'too few candidate requests to compare mean latency yet' : `${alone}: no sign that the candidate is slower on average`,
    };
  }
  const process = component === 'errors' ? s.errors : s.latency?.exceed[i - 1];
  const events = process?.candidateEvents ?? 0;
  const unit = component === 'errors' ? (c.dedupByKey ? 'failing keys' : 'errors') : 'slow requests';
  return {
    name: component === 'errors' ? 'error evidence' : `latency ${QUANTILE_NAMES[i - 1]} exceedance evidence`,
    value: process === undefined ? null : value,
    threshold,
    result: failed ? 'fail' : events < c.minCandidateEvents ? 'inconclusive' : 'pass',
    detail: `${describe(p, component)}; ${events} candidate ${unit} (${c.minCandidateEvents} needed before it may fail)${thresholdSource(s, component)}`,
    meaning: failed
      ? `the candidate ${component === 'errors' ? 'fails more often' : 'is slow more often'} than stable at the same times`
      : events < c.minCandidateEvents ? `${alone}; too few candidate ${unit} for it to fail yet` : `${alone}: no sign of regression`,
  };
}

function latencyJudgedCheck(p: Parts): VerdictCheck {
  const { state: s, config: c, input } = p;
  const judged = s.segment.judgedLatencies;
  const warming = s.lastBucketMs === null || s.lastBucketMs < s.warmupUntilMs;
  return {
    name: 'latency judged at this weight',
    value: judged,
    threshold: c.minCandidateRequests,
    result: judged >= c.minCandidateRequests ? 'pass' : 'inconclusive',
    detail: `${judged} candidate latencies compared with stable's at weight ${weightText(input.weightBp)}, after a ${seconds(c.latencyWarmupMs)} warm-up that follows the start and every weight change${saturation(s)}`,
    meaning: judged >= c.minCandidateRequests
      ? "the candidate's latency at this weight has been judged"
      : warming ? 'latency warm-up after the weight changed: the step waits for it' : "too few candidate latencies at this weight yet: the step cannot pass",
  };
}

/**
 * The figure compared with 1/α. Before a fail it is the evidence now, every test
 * counted (1 with no information either way), the same figure as the verdict's
 * reason; a fail shows the peak that crossed, counting only the tests that had
 * their minimum data, which is what the rule compares.
 */
function evidenceCheck(p: Parts): VerdictCheck {
  const { state: s } = p;
  const peak = finite(Math.exp(s.peakCombinedLog));
  const now = finite(Math.exp(combinedLog(p.logsNow, p.weights)));
  const crossed = s.crossedAtMs !== null;
  return {
    name: 'evidence',
    value: crossed ? peak : now,
    threshold: p.threshold,
    result: crossed ? 'fail' : 'pass',
    detail: `weighted average of the tests above (errors ${num(p.weights[0] as number)}, latency the rest), each run since the rollout started (${num(1 - p.config.restartShare)} of it) and afresh since each weight change (${s.restarts.length} so far); it rolls back when, counting only the tests that have their minimum data, it reaches 1/α (α = ${p.config.alpha}) after any bucket, which bounds the chance of rolling back a candidate as good as stable; highest so far counted that way: ${num(peak)}`,
    meaning: crossed
      ? `the evidence against the candidate reached ${num(peak)}, past the ${num(p.threshold)} that roll back`
      : `evidence against the candidate ${num(now)} of the ${num(p.threshold)} that roll back; about 1 or less means no sign of regression`,
  };
}

function ratioCheck(p: Parts): VerdictCheck {
  const { config: c, ratio } = p;
  return {
    name: 'sample ratio',
    value: ratio.pValue,
    threshold: c.srmAlpha,
    result: ratio.pValue === null || ratio.mismatch ? 'inconclusive' : 'pass',
    detail: `candidate share ${pct(ratio.observedShare ?? 0)} vs expected ${pct(ratio.expectedShare ?? 0)} over ${ratio.requests} requests in the last ${seconds(c.srmWindowMs)}; holds below p = ${c.srmAlpha} and beyond ±${pct(c.srmTolerance)}`,
    meaning: ratio.mismatch
      ? 'the candidate gets a different share of requests than its weight (stale replicas or a broken split): the rollout is held'
      : ratio.pValue === null ? 'too few requests to check the split yet' : 'the candidate gets the share of requests its weight asks for',
  };
}

function thresholdSource(s: EvidenceState, component: Component): string {
  const source = s.latency?.thresholdSource;
  if (component === 'errors' || source === null || source === undefined) return '';
  return source === 'baseline' ? '; threshold from the pre-rollout baseline' : "; threshold from stable's first requests of the rollout";
}

function figures(p: Parts): Record<string, number> {
  const { state: s, config: c, guard, ratio } = p;
  const f: Record<string, number> = {};
  const put = (name: string, value: number | null | undefined) => {
    if (value !== null && value !== undefined && Number.isFinite(value)) f[name] = value;
  };
  put('buckets', s.buckets);
  put('saturatedBuckets', s.saturatedBuckets);
  put('weightBp', p.input.weightBp);
  put('weightComparedRequests', s.segment.comparedRequests);
  put('weightJudgedLatencies', s.segment.judgedLatencies);
  put('comparedRequests', s.comparedRequests);
  put('latencyWarmupUntil', s.warmupUntilMs);
  for (const [arm, t] of [['candidate', s.candidate], ['stable', s.stable]] as const) {
    put(`${arm}Requests`, t.requests);
    put(`${arm}Errors`, t.errors);
    put(`${arm}FailingKeys`, t.failingKeys);
    put(`${arm}ErrorRate`, t.requests > 0 ? t.errors / t.requests : null);
  }
  const stableRate = s.stable.requests > 0 ? s.stable.errors / s.stable.requests : 0;
  put('errorRateRatio', s.candidate.requests > 0 && stableRate > 0 ? s.candidate.errors / s.candidate.requests / stableRate : null);
  put('errorEvidence', Math.exp(p.logsNow[0] as number));
  QUANTILE_NAMES.forEach((name, q) => put(`latency${name.toUpperCase()}Evidence`, s.latency?.thresholdKeys ? Math.exp(p.logsNow[q + 1] as number) : null));
  put('restarts', s.restarts.length);
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
  put('latencyMeanEvidence', m === null ? null : finite(Math.exp(p.logsNow[COMPONENTS.indexOf('latencyMean')] as number)));
  put('latencyComparedRequests', s.latency?.means.candidateN);
  put('evidence', Math.exp(combinedLog(p.logsNow, p.weights)));
  put('peakEvidence', finite(Math.exp(s.peakCombinedLog)));
  put('logPeakEvidence', s.peakCombinedLog);
  put('evidenceThreshold', p.threshold);
  put('absoluteErrorRatio', guard.ratio);
  put('candidateShare', ratio.observedShare);
  put('expectedShare', ratio.expectedShare);
  put('sampleRatioPValue', ratio.pValue);
  return f;
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

function weightText(weightBp: number): string {
  return `${weightBp / 100}%`;
}

function ms(x: number | null): string {
  return x === null ? 'n/a' : `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`;
}

function seconds(durationMs: number): string {
  return durationMs % 60_000 === 0 ? `${durationMs / 60_000} min` : `${durationMs / 1000} s`;
}
