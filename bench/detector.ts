import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DEFAULT_ANALYSIS_CONFIG } from '../src/core/analysis/config.js';
import { BENCH_CASES, type BenchCase } from './detector-lib/scenarios.js';
import { markdownTable, summarise, textTable, type CaseSummary } from './detector-lib/table.js';
import type { BenchJob, BenchOutcome } from './detector-lib/worker.js';

/**
 * Detector bench (research/canary-statistics.md §4): seeded simulations of
 * healthy (A/A) and regressed rollouts, judged by the production `analyse`
 * every 5 s and by a Flagger-style rule every minute, on the same streams.
 *
 *   node dist/bench/detector.js [--aa 2000] [--steady 1000] [--ab 500] [--seed 1] [--workers 2]
 */
interface Options {
  aa: number;
  steady: number;
  ab: number;
  seed: number;
  workers: number;
}

function parseOptions(argv: readonly string[]): Options {
  const options: Options = { aa: 2000, steady: 1000, ab: 500, seed: 1, workers: Math.min(2, availableParallelism()) };
  for (let i = 0; i < argv.length; i += 2) {
    const name = (argv[i] ?? '').replace(/^--/, '') as keyof Options;
    const value = Number(argv[i + 1]);
    if (!(name in options) || !Number.isInteger(value) || value < 0) throw new Error(`usage: --aa N --steady N --ab N --seed N --workers N (bad ${argv[i]})`);
    options[name] = value;
  }
  options.workers = Math.max(1, options.workers);
  return options;
}

function runsOf(c: BenchCase, o: Options): number {
  if (c.id === 'aa') return o.aa;
  return c.id === 'aa-steady' ? o.steady : o.ab;
}

function jobsFor(o: Options): BenchJob[] {
  return BENCH_CASES.flatMap((c, caseIndex) =>
    Array.from({ length: runsOf(c, o) }, (_, i) => ({ caseId: c.id, seed: (o.seed * 1_000_003 + caseIndex * 100_000 + i) >>> 0, verify: i < 5 })),
  );
}

async function runAll(jobs: readonly BenchJob[], workers: number): Promise<BenchOutcome[]> {
  const shares = Array.from({ length: workers }, (_, w) => jobs.filter((_, i) => i % workers === w));
  const url = new URL('./detector-lib/worker.js', import.meta.url);
  const parts = await Promise.all(
    shares.map(
      (share) =>
        new Promise<BenchOutcome[]>((resolve, reject) => {
          const worker = new Worker(url, { workerData: { jobs: share } });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  return parts.flat();
}

function targets(rows: readonly CaseSummary[]): string[] {
  const row = (label: string) => rows.find((r) => r.label === label);
  const aa = row('A/A healthy, one shared incident');
  const five = row('5× error rate');
  const total = row('total failure');
  const mark = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const out: string[] = [];
  if (aa) out.push(`false rollbacks ≤ 1 %: ${(100 * aa.detector.rolledBack / aa.runs).toFixed(2)} % (95 % CI upper ${(100 * aa.detector.ciHigh).toFixed(2)} %): ${mark(aa.detector.rolledBack / aa.runs <= 0.01)}`);
  if (five) out.push(`5× median ≤ 90 s: ${five.detector.medianMs === null ? '> 30 min' : `${five.detector.medianMs / 1000} s`}: ${mark(five.detector.medianMs !== null && five.detector.medianMs <= 90_000)}`);
  if (total) out.push(`total failure ≤ 5 s: median ${total.detector.medianMs === null ? '> 30 min' : `${total.detector.medianMs / 1000} s`}: ${mark(total.detector.medianMs !== null && total.detector.medianMs <= 5_000)}`);
  return out;
}

/** Which part of the detector a failing verdict came from, read off its reason. */
function causeOf(reason: string): string {
  if (reason.startsWith('candidate error ratio')) return 'absolute guard';
  return reason.startsWith('candidate error rate') ? 'error e-process' : 'latency tests';
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const started = performance.now();
  console.log(`$ node dist/bench/detector.js --aa ${o.aa} --steady ${o.steady} --ab ${o.ab} --seed ${o.seed} --workers ${o.workers}`);
  console.log('setting: 50 rps Poisson, 5 % canary (sticky keys, 20 000 users), 1 % of requests fail, each failure followed by failing retries');
  console.log('         from the same key (cluster of 1 + geometric, mean 3; so ~3 % of requests are errors), log-normal latency (median 100 ms, σ 0.5),');
  console.log('         1-s buckets, analyse() every 5 s on every bucket so far, 10-min pre-rollout baseline, 30-min horizon, regressions from the start');
  const c = DEFAULT_ANALYSIS_CONFIG;
  console.log(`detector: defaults (α ${c.alpha}, errors ${c.errorShare * 100} % of the evidence, grid ${c.errorGrid.join('/')}, ≥ ${c.minCandidateEvents} canary events, absolute guard ${c.absoluteErrorRate * 100} % over ${c.absoluteWindowMs / 1000} s)`);
  console.log('Flagger-style: every 1 min, success rate ≥ 99 % and p99 ≤ 500 ms over the last minute, rollback on the tick after 5 failed checks\n');
  const outcomes = await runAll(jobsFor(o), o.workers);
  const rows = BENCH_CASES.filter((bc) => runsOf(bc, o) > 0).map((bc) => summarise(bc, outcomes));
  console.log(textTable(rows));
  console.log('A/A rows: median and p90 of the false rollbacks; regression rows: time to the first fail verdict, misses counted as > 30 min');
  console.log(`\n${markdownTable(rows)}\n`);
  for (const line of targets(rows)) console.log(`target ${line}`);
  const verified = outcomes.filter((r) => r.verified !== null);
  console.log(`checkpointed analyseFrom() equals from-scratch analyse(): ${verified.filter((r) => r.verified).length}/${verified.length} runs checked`);
  for (const bc of BENCH_CASES.filter((x) => x.healthy)) {
    const causes = new Map<string, number>();
    for (const r of outcomes) if (r.caseId === bc.id && r.reason !== null) causes.set(causeOf(r.reason), (causes.get(causeOf(r.reason)) ?? 0) + 1);
    if (causes.size > 0) console.log(`false rollbacks by cause, ${bc.label}: ${[...causes].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  }
  for (const bc of BENCH_CASES) {
    const sample = outcomes.find((r) => r.caseId === bc.id && r.reason !== null);
    if (sample) console.log(`sample reason, ${bc.label}: ${sample.reason}`);
  }
  console.log(`wall time ${((performance.now() - started) / 1000).toFixed(1)} s on ${o.workers} worker(s)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
