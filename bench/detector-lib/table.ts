import { censoredQuantile, wilson } from './stats.js';
import type { BenchCase } from './scenarios.js';
import type { BenchOutcome } from './worker.js';

export interface CaseSummary {
  readonly label: string;
  readonly healthy: boolean;
  readonly runs: number;
  readonly detector: ArmSummary;
  readonly flagger: ArmSummary;
}

export interface ArmSummary {
  readonly rolledBack: number;
  readonly medianMs: number | null;
  readonly p90Ms: number | null;
  readonly ciLow: number;
  readonly ciHigh: number;
}

function summariseArm(times: readonly (number | null)[], healthy: boolean): ArmSummary {
  const rolledBack = times.filter((t) => t !== null).length;
  const ci = wilson(rolledBack, times.length);
  // For A/A the times are those of the false rollbacks; for regressions misses count as +∞.
  const pool = healthy ? times.filter((t) => t !== null) : times;
  return { rolledBack, medianMs: censoredQuantile(pool, 0.5), p90Ms: censoredQuantile(pool, 0.9), ciLow: ci.low, ciHigh: ci.high };
}

export function summarise(c: BenchCase, outcomes: readonly BenchOutcome[]): CaseSummary {
  const mine = outcomes.filter((o) => o.caseId === c.id);
  return {
    label: c.label,
    healthy: c.healthy,
    runs: mine.length,
    detector: summariseArm(mine.map((o) => o.detectorMs), c.healthy),
    flagger: summariseArm(mine.map((o) => o.flaggerMs), c.healthy),
  };
}

const HEADER = ['scenario', 'runs', 'Switchyard rolled back', 'median', 'p90', 'Flagger-style rolled back', 'median', 'p90'];

function cells(s: CaseSummary): string[] {
  const arm = (a: ArmSummary) => [
    s.healthy
      ? `${pct(a.rolledBack / s.runs)} (${a.rolledBack}/${s.runs}; 95% CI ${pct(a.ciLow)}–${pct(a.ciHigh)})`
      : `${pct(a.rolledBack / s.runs)} (${a.rolledBack}/${s.runs})`,
    time(a.medianMs, s.healthy && a.rolledBack === 0),
    time(a.p90Ms, s.healthy && a.rolledBack === 0),
  ];
  return [s.healthy ? `${s.label} (false rollbacks)` : s.label, String(s.runs), ...arm(s.detector), ...arm(s.flagger)];
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.1 ? 2 : 1)}%`;
}

function time(ms: number | null, none: boolean): string {
  if (none) return '—';
  if (ms === null) return '> 30 min';
  return ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 60_000).toFixed(1)} min`;
}

export function textTable(rows: readonly CaseSummary[]): string {
  const grid = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...grid.map((r) => (r[i] as string).length)));
  const line = (r: string[]) => r.map((c, i) => (i <= 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...grid.slice(1).map(line)].join('\n');
}

export function markdownTable(rows: readonly CaseSummary[]): string {
  const line = (r: string[]) => `| ${r.join(' | ')} |`;
  return [line(HEADER), line(HEADER.map((_, i) => (i < 1 ? '---' : '---:'))), ...rows.map((r) => line(cells(r)))].join('\n');
}
