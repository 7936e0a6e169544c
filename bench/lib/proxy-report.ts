import type { CpuShare } from './cpu-account.js';
import { fmtBytes, fmtInt, fmtMs, fmtRatio, median, renderTable } from './table.js';
import type { LoadResult } from './wrk.js';

/** The summary of bench/proxy: one row per variant, ratios against nginx and direct, the targets of issue 7. */

export type Scenario = 'fast' | 'slow' | 'idle';

export interface Run {
  readonly rep: number;
  readonly scenario: Scenario;
  readonly variant: string;
  readonly load: LoadResult;
  /** CPU of the proxy's whole process tree during the run; null for direct. */
  readonly proxyCpuMs: number | null;
  /** Peak RSS of the proxy's process tree during the run (sampled), null for direct. */
  readonly peakRssBytes: number | null;
  /** Peak RSS of the largest single process of the tree (a worker, or the primary). */
  readonly peakProcessRssBytes: number | null;
  /** Processes in the proxy's tree. */
  readonly processes: number;
  readonly backend: { cpuMs: number; connections: number; requests: number; canary: number };
  /** CPU used by processes other than the bench's during the run (Linux), null elsewhere. */
  readonly cpu: CpuShare | null;
  readonly probeMs: number;
  /** Switchyard: what was found when the canary had left 10 % by the end of the run, else null. */
  readonly canaryRestored: string | null;
}

export interface IdleRun {
  readonly rep: number;
  readonly variant: string;
  readonly beforeBytes: number;
  readonly rssBytes: number;
  readonly pssBytes: number;
  readonly opened: number;
  readonly failed: number;
  readonly alive: number;
  readonly ms: number;
  readonly firstError: string | null;
}

interface ReportOptions {
  readonly reps: number;
  readonly slowMs: number;
  readonly idle: number;
  readonly workers: readonly number[];
  readonly scenarios: readonly Scenario[];
}

/** Issue 7's targets on this machine. */
const TARGET_THROUGHPUT_VS_NGINX = 0.9;
const TARGET_ADDED_P99_US = 1_000;
const TARGET_RSS_BYTES = 120 * 1024 * 1024;

export function label(variant: string): string {
  if (variant === 'direct') return 'direct (the limit)';
  const [kind, w] = variant.split('@');
  const workers = `${w} worker${w === '1' ? '' : 's'}`;
  return kind === 'switchyard' ? `Switchyard, ${workers}` : `nginx split_clients, ${workers}`;
}

const spread = (xs: readonly number[], fmt: (x: number) => string): string => (xs.length < 2 ? '' : ` (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`);

export function printProxySummary(opts: ReportOptions, variants: readonly string[], runs: readonly Run[], idleRuns: readonly IdleRun[], disturbed: number): void {
  const pick = (variant: string, scenario: Scenario) => runs.filter((r) => r.variant === variant && r.scenario === scenario);
  const values = (variant: string, scenario: Scenario, key: 'rps' | 'p50Us' | 'p99Us') => pick(variant, scenario).map((r) => r.load[key]);
  const m = (variant: string, scenario: Scenario, key: 'rps' | 'p50Us' | 'p99Us') => median(values(variant, scenario, key));
  /** Added latency: each slow run minus the direct run of the same repetition. */
  const addedAll = (variant: string, key: 'p50Us' | 'p99Us'): number[] =>
    pick(variant, 'slow').map((r) => {
      const base = runs.find((d) => d.variant === 'direct' && d.scenario === 'slow' && d.rep === r.rep);
      return base === undefined ? NaN : r.load[key] - base.load[key];
    });
  const added = (variant: string, key: 'p50Us' | 'p99Us') => median(addedAll(variant, key));
  const peakRss = (variant: string) => Math.max(...runs.filter((r) => r.variant === variant && r.peakRssBytes !== null).map((r) => r.peakRssBytes ?? 0));
  const peakProcessRss = (variant: string) => Math.max(...runs.filter((r) => r.variant === variant).map((r) => r.peakProcessRssBytes ?? 0));
  const idleRss = (variant: string) => idleRuns.filter((r) => r.variant === variant).map((r) => r.rssBytes);
  const cpuPerReq = (variant: string) =>
    median(pick(variant, 'fast').flatMap((r) => (r.proxyCpuMs === null || r.load.requests === 0 ? [] : [(r.proxyCpuMs * 1000) / r.load.requests])));
  const hasFast = opts.scenarios.includes('fast');
  const hasSlow = opts.scenarios.includes('slow');
  const hasIdle = opts.scenarios.includes('idle') && idleRuns.length > 0;
  const rpsDirect = m('direct', 'fast', 'rps');

  const head = ['variant'];
  if (hasFast) head.push('fast req/s (min–max)', '×direct', 'fast p50', 'fast p99', 'CPU/req');
  if (hasSlow) head.push(`${opts.slowMs} ms p50`, `${opts.slowMs} ms p99`, 'added p50', 'added p99 (min–max)');
  head.push('peak RSS under load');
  if (hasIdle) head.push(`RSS, ${fmtInt(opts.idle)} idle (min–max)`);
  const rows = variants.map((v) => {
    const proxy = v !== 'direct';
    const row = [label(v)];
    if (hasFast) {
      const us = cpuPerReq(v);
      row.push(fmtInt(m(v, 'fast', 'rps')) + spread(values(v, 'fast', 'rps'), fmtInt), fmtRatio(m(v, 'fast', 'rps') / rpsDirect), fmtMs(m(v, 'fast', 'p50Us')), fmtMs(m(v, 'fast', 'p99Us')), proxy && Number.isFinite(us) ? `${us.toFixed(0)} µs` : '—');
    }
    if (hasSlow) {
      const p99s = addedAll(v, 'p99Us');
      row.push(fmtMs(m(v, 'slow', 'p50Us')), fmtMs(m(v, 'slow', 'p99Us')), proxy ? fmtMs(added(v, 'p50Us'), true) : '—', proxy ? fmtMs(median(p99s), true) + spread(p99s, (x) => fmtMs(x, true)) : '—');
    }
    row.push(proxy ? fmtBytes(peakRss(v)) : '—');
    if (hasIdle) row.push(proxy ? fmtBytes(median(idleRss(v))) + spread(idleRss(v), fmtBytes) : '—');
    return row;
  });
  console.log(`Medians of ${opts.reps} interleaved repetition(s) (min–max over repetitions). "added" = proxy minus direct in the same repetition, as wrk sees it.`);
  console.log('CPU/req and RSS are of the whole process tree (Switchyard primary + workers, nginx master + workers); peak RSS is the highest sample of any load run.');
  console.log(renderTable(head, rows));

  const ratioHead = ['ratio'];
  if (hasFast) ratioHead.push('fast req/s', 'fast p50', 'fast p99', 'CPU/req');
  if (hasSlow) ratioHead.push(`${opts.slowMs} ms p99`, 'added p99');
  ratioHead.push('peak RSS under load');
  if (hasIdle) ratioHead.push(`RSS, ${fmtInt(opts.idle)} idle`);
  const ratioRows: string[][] = [];
  for (const w of opts.workers) {
    for (const other of [`nginx@${w}`, 'direct']) {
      const sy = `switchyard@${w}`;
      if (!variants.includes(sy) || !variants.includes(other)) continue;
      const isNginx = other !== 'direct';
      const r = (scenario: Scenario, key: 'rps' | 'p50Us' | 'p99Us') => fmtRatio(m(sy, scenario, key) / m(other, scenario, key));
      const row = [`${label(sy)} / ${isNginx ? 'nginx' : 'direct'}`];
      if (hasFast) row.push(r('fast', 'rps'), r('fast', 'p50Us'), r('fast', 'p99Us'), isNginx ? fmtRatio(cpuPerReq(sy) / cpuPerReq(other)) : '—');
      if (hasSlow) row.push(r('slow', 'p99Us'), isNginx ? `${fmtMs(added(sy, 'p99Us'), true)} vs ${fmtMs(added(other, 'p99Us'), true)}` : '—');
      row.push(isNginx ? fmtRatio(peakRss(sy) / peakRss(other)) : '—');
      if (hasIdle) row.push(isNginx ? fmtRatio(median(idleRss(sy)) / median(idleRss(other))) : '—');
      ratioRows.push(row);
    }
  }
  if (ratioRows.length > 0) {
    console.log('');
    console.log(renderTable(ratioHead, ratioRows));
  }

  const targets: string[] = [];
  const verdict = (met: boolean) => (met ? 'met' : 'MISSED');
  for (const w of opts.workers) {
    const sy = `switchyard@${w}`;
    if (!variants.includes(sy)) continue;
    if (hasFast && variants.includes(`nginx@${w}`)) {
      const ratio = m(sy, 'fast', 'rps') / m(`nginx@${w}`, 'fast', 'rps');
      targets.push(`${w} worker(s): throughput ${fmtRatio(ratio)} nginx (target ≥ ${fmtRatio(TARGET_THROUGHPUT_VS_NGINX)}): ${verdict(ratio >= TARGET_THROUGHPUT_VS_NGINX)}${ratio < TARGET_THROUGHPUT_VS_NGINX ? ` by ${((TARGET_THROUGHPUT_VS_NGINX - ratio) * 100).toFixed(0)} points` : ''}`);
    }
    if (hasSlow) {
      const p99 = added(sy, 'p99Us');
      targets.push(`${w} worker(s): added p99 at ${opts.slowMs} ms ${fmtMs(p99, true)} (target ≤ +1.00 ms): ${verdict(p99 <= TARGET_ADDED_P99_US)}${p99 > TARGET_ADDED_P99_US ? ` by ${fmtMs(p99 - TARGET_ADDED_P99_US)}` : ''}`);
    }
    const rss = peakRss(sy);
    const largest = w > 1 ? `; largest single process ${fmtBytes(peakProcessRss(sy))}` : '';
    targets.push(`${w} worker(s): peak RSS under load ${fmtBytes(rss)}, all processes (target ≤ 120 MB): ${verdict(rss <= TARGET_RSS_BYTES)}${largest}`);
  }
  if (targets.length > 0) console.log(`\nIssue 7 targets:\n  ${targets.join('\n  ')}`);

  const errors = runs.filter((r) => r.load.errors > 0);
  if (errors.length > 0) console.log(`\nWARNING: ${errors.length} run(s) had errors or non-2xx answers; their figures are suspect.`);
  const lost = idleRuns.filter((r) => r.failed > 0 || r.alive < r.opened);
  if (lost.length > 0) console.log(`WARNING: ${lost.length} idle measurement(s) could not open or keep every connection (see above).`);
  const restored = runs.filter((r) => r.canaryRestored !== null);
  if (restored.length > 0) console.log(`NOTE: the canary had left 10 % after ${restored.length} run(s) (the analysis judged it) and was put back.`);
  const busy = runs.filter((r) => (r.cpu?.foreign ?? 0) > disturbed);
  if (busy.length > 0) console.log(`WARNING: other processes used > ${(disturbed * 100).toFixed(0)} % of the CPUs during ${busy.length} of ${runs.length} runs; compare within a repetition.`);
}
