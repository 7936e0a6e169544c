import type { ArmSummary, CaseSummary } from './summary.js';

/**
 * The bench's tables, in text for the terminal and in markdown for bench/README.md:
 * one for the fixed 5 % canary (the stationary cases, comparable with earlier
 * runs) and one for the step plan, which adds promotions and pauses.
 */
export interface Table {
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

const ARM = ['rolled back', 'median', 'p90'];

export function fixedTable(rows: readonly CaseSummary[]): Table {
  return {
    header: ['scenario (fixed 5 % canary)', 'runs', ...ARM.map((h, i) => (i === 0 ? `Switchyard ${h}` : h)), ...ARM.map((h, i) => (i === 0 ? `Flagger-style ${h}` : h))],
    rows: rows.map((s) => [label(s), String(s.runs), ...arm(s, s.detector), ...arm(s, s.flagger)]),
  };
}

export function planTable(rows: readonly CaseSummary[]): Table {
  return {
    header: [
      'scenario (step plan)', 'runs', 'Switchyard rolled back', 'median', 'p90', 'promoted', 'median', 'paused',
      'Flagger-style rolled back', 'median', 'p90',
    ],
    rows: rows.map((s) => [label(s), String(s.runs), ...arm(s, s.detector), ...promotion(s), String(s.paused), ...arm(s, s.flagger)]),
  };
}

function label(s: CaseSummary): string {
  return s.case.healthy ? `${s.case.label} (false rollbacks)` : s.case.label;
}

function arm(s: CaseSummary, a: ArmSummary): string[] {
  const share = s.case.healthy
    ? `${pct(a.rolledBack / s.runs)} (${a.rolledBack}/${s.runs}; 95% CI ${pct(a.ciLow)}–${pct(a.ciHigh)})`
    : `${pct(a.rolledBack / s.runs)} (${a.rolledBack}/${s.runs})`;
  const none = s.case.healthy && a.rolledBack === 0;
  return [share, time(a.medianMs, none), time(a.p90Ms, none)];
}

/** A healthy plan: how many promoted and when; a regressed one: how many ever got past their first step. */
function promotion(s: CaseSummary): string[] {
  const count = `${pct(s.promoted / s.runs)} (${s.promoted}/${s.runs})`;
  if (s.case.healthy) return [count, time(s.promoteMedianMs, s.promoted === 0)];
  return [`${count}; passed step 1 in ${s.passedFirstStep} of ${s.runs} runs`, time(s.promoteMedianMs, s.promoted === 0)];
}

export function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.1 ? 2 : 1)}%`;
}

/** A time within the horizon, "> 30 min" past it, "—" when there is nothing to time. */
export function time(ms: number | null, none = false): string {
  if (none) return '—';
  if (ms === null) return '> 30 min';
  return ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 60_000).toFixed(1)} min`;
}

export function textTable(t: Table): string {
  const grid = [t.header, ...t.rows];
  const widths = t.header.map((_, i) => Math.max(...grid.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(t.header), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)].join('\n');
}

export function markdownTable(t: Table): string {
  const line = (r: readonly string[]) => `| ${r.join(' | ')} |`;
  return [line(t.header), line(t.header.map((_, i) => (i === 0 ? '---' : '---:'))), ...t.rows.map(line)].join('\n');
}
