/**
 * The grid-mixture conditional-binomial e-process (docs/analysis.md, The
 * statistics). Under the sharp null each event of a bucket (an error, a request
 * above a latency threshold) is the candidate's with probability ρ_t, the
 * candidate's realised share of requests in that bucket. Per grid ratio r_j,
 *   θ(r)  = ρ·r / (ρ·r + 1 − ρ)
 *   ΔL_j  = x·ln(θ(r_j)/θ(r0)) + y·ln((1 − θ(r_j))/(1 − θ(r0)))
 * and E = mean_j exp(L_j). Kept in log space; one float per grid point.
 */

/** P(an event is the candidate's) when the candidate's rate is r × stable's and its share is ρ. */
export function theta(rho: number, r: number): number {
  return (rho * r) / (rho * r + 1 - rho);
}

/** Cumulative state of one e-process: L_j per grid point and the events seen. */
export interface GridProcess {
  readonly grid: readonly number[];
  readonly margin: number;
  readonly logLR: Float64Array;
  candidateEvents: number;
  stableEvents: number;
}

export function newGridProcess(grid: readonly number[], margin: number): GridProcess {
  return { grid, margin, logLR: new Float64Array(grid.length), candidateEvents: 0, stableEvents: 0 };
}

export function cloneGridProcess(p: GridProcess): GridProcess {
  return { ...p, logLR: p.logLR.slice() };
}

/**
 * Adds one bucket: `x` candidate events and `y` stable events, with the
 * candidate's share of requests `rho`. Buckets where one arm had no requests
 * carry no information (ρ ∈ {0, 1}) and are skipped.
 */
export function addEvents(p: GridProcess, rho: number, x: number, y: number): void {
  if (!(rho > 0 && rho < 1) || x + y === 0) return;
  p.candidateEvents += x;
  p.stableEvents += y;
  const t0 = theta(rho, p.margin);
  const lnT0 = Math.log(t0);
  const lnU0 = Math.log1p(-t0);
  for (let j = 0; j < p.grid.length; j++) {
    const t1 = theta(rho, p.grid[j] as number);
    p.logLR[j] = (p.logLR[j] as number) + x * (Math.log(t1) - lnT0) + y * (Math.log1p(-t1) - lnU0);
  }
}

/** ln E = ln(mean_j exp(L_j)), by log-sum-exp so that large L_j do not overflow. */
export function logEvidence(p: GridProcess): number {
  return logMeanExp(p.logLR);
}

export function logMeanExp(values: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i] as number);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp((values[i] as number) - max);
  return max + Math.log(sum / values.length);
}

/** ln(Σ_i w_i·exp(l_i)) for weights w_i ≥ 0. */
export function logWeightedSum(terms: ReadonlyArray<{ weight: number; logValue: number }>): number {
  let max = -Infinity;
  for (const t of terms) if (t.weight > 0) max = Math.max(max, t.logValue);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (const t of terms) if (t.weight > 0) sum += t.weight * Math.exp(t.logValue - max);
  return max + Math.log(sum);
}
