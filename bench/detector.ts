import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DEFAULT_ANALYSIS_CONFIG } from '../src/core/analysis/config.js';
import { FLAGGER_RULE } from './detector-lib/flagger.js';
import { LOOP, planText, STEP_PLAN } from './detector-lib/production.js';
import { causeLine, sampleLines, stepTimesLine, targetLines } from './detector-lib/report.js';
import { BASE_SCENARIO, BENCH_CASES, HORIZON_MS, type BenchCase, type RunCount } from './detector-lib/scenarios.js';
import { summarise } from './detector-lib/summary.js';
import { fixedTable, markdownTable, planTable, textTable } from './detector-lib/table.js';
import type { BenchJob, BenchOutcome } from './detector-lib/worker.js';

/**
 * Detector bench: seeded simulations of
 * healthy (A/A) and regressed rollouts, run through the gateway's own code
 * path (analyseFrom → decideRound → transition, every loop interval), beside
 * a Flagger-style rule judging the same streams every minute. A fixed 5 %
 * canary for the stationary cases; a step plan, advanced by the loop, for
 * shared slowdowns, ramps and surges and for a slower candidate.
 *
 *   node dist/bench/detector.js [--aa 2000] [--steady 1000] [--ab 500] [--shift 500] [--slow 500] [--seed 1] [--workers 2]
 */
type Options = Record<RunCount, number> & { seed: number; workers: number };

function parseOptions(argv: readonly string[]): Options {
  const options: Options = { aa: 2000, steady: 1000, ab: 500, shift: 500, slow: 500, seed: 1, workers: Math.min(2, availableParallelism()) };
  for (let i = 0; i < argv.length; i += 2) {
    const name = (argv[i] ?? '').replace(/^--/, '') as keyof Options;
    const value = Number(argv[i + 1]);
    if (!(name in options) || !Number.isInteger(value) || value < 0) {
      throw new Error(`usage: --aa N --steady N --ab N --shift N --slow N --seed N --workers N (bad ${argv[i]})`);
    }
    options[name] = value;
  }
  options.workers = Math.max(1, options.workers);
  return options;
}

function jobsFor(o: Options): BenchJob[] {
  return BENCH_CASES.flatMap((c, caseIndex) =>
    Array.from({ length: o[c.runs] }, (_, i) => ({ caseId: c.id, seed: (o.seed * 1_000_003 + caseIndex * 100_000 + i) >>> 0, verify: i < 5 })),
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

function printSetting(o: Options): void {
  const t = BASE_SCENARIO;
  const c = DEFAULT_ANALYSIS_CONFIG;
  console.log(`$ node dist/bench/detector.js --aa ${o.aa} --steady ${o.steady} --ab ${o.ab} --shift ${o.shift} --slow ${o.slow} --seed ${o.seed} --workers ${o.workers}`);
  console.log(`traffic: ${t.rps} rps Poisson, sticky keys (${t.users} users, each with a fixed bucket in 0..9999: on the candidate while bucket < weight), ${t.baseErrorRate * 100} % of requests fail,`);
  console.log(`         each failure followed by failing retries from the same key (cluster of 1 + geometric, mean ${1 + t.retryMean}), log-normal latency (median ${t.latencyMedianMs} ms, σ ${t.latencySigma}),`);
  console.log(`         ${LOOP.baselineMs / 60_000}-min pre-rollout baseline; ${LOOP.bucketMs / 1000}-s buckets labelled with the weight the rollout had when they were recorded`);
  console.log(`gateway path: every ${LOOP.intervalMs / 1000} s, analyseFrom (checkpointed) on every bucket so far, decideRound (maxInconclusive ${LOOP.maxInconclusive}), transition;`);
  console.log(`         buckets judged as soon as they close (the gateway waits analysis.settle for the replicas' flushes on top)`);
  console.log(`detector: defaults (α ${c.alpha}, errors ${c.errorShare * 100} % of the evidence, grid ${c.errorGrid.join('/')}, ≥ ${c.minCandidateEvents} canary events, latency warm-up ${c.latencyWarmupMs / 1000} s, absolute guard ${c.absoluteErrorRate * 100} % over ${c.absoluteWindowMs / 1000} s)`);
  console.log(`fixed canary: a manual canary at ${t.weightBp / 100} % (the loop only rolls it back) for ${HORIZON_MS / 60_000} simulated minutes; regressions from the start`);
  console.log(`step plan: ${planText(STEP_PLAN)}; a step advances on a pass once baked, the last one promotes; judged until promotion, rollback or ${HORIZON_MS / 60_000} min`);
  console.log(`Flagger-style: every ${FLAGGER_RULE.intervalMs / 60_000} min, success rate ≥ ${FLAGGER_RULE.minSuccessRate * 100} % and p99 ≤ ${FLAGGER_RULE.maxP99Ms} ms over the last minute, rollback on the tick after ${FLAGGER_RULE.threshold} failed checks;`);
  console.log('         it judges the same traffic but does not drive the steps; once the loop ended a rollout the stream goes on at its last weight\n');
}

function printTables(o: Options, outcomes: readonly BenchOutcome[]): BenchCase[] {
  const cases = BENCH_CASES.filter((bc) => o[bc.runs] > 0);
  const rows = cases.map((bc) => summarise(bc, outcomes));
  const tables = [fixedTable(rows.filter((r) => r.case.rollout === 'fixed')), planTable(rows.filter((r) => r.case.rollout === 'plan'))].filter((t) => t.rows.length > 0);
  for (const t of tables) console.log(`${textTable(t)}\n`);
  console.log('A/A rows: median and p90 of the false rollbacks; regression rows: time to the rollback, misses counted as > 30 min; promoted: median over the promoted runs');
  for (const t of tables) console.log(`\n${markdownTable(t)}`);
  console.log('');
  for (const line of targetLines(rows)) console.log(`target ${line}`);
  return cases;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const started = performance.now();
  printSetting(o);
  const outcomes = await runAll(jobsFor(o), o.workers);
  const cases = printTables(o, outcomes);
  const verified = outcomes.filter((r) => r.verified !== null);
  console.log(`checkpointed analyseFrom() equals from-scratch analyse() at the last round judged: ${verified.filter((r) => r.verified).length}/${verified.length} runs checked`);
  for (const bc of cases.filter((x) => x.healthy)) {
    const line = causeLine(bc, outcomes);
    if (line !== null) console.log(line);
  }
  for (const bc of cases.filter((x) => x.rollout === 'plan')) {
    const line = stepTimesLine(bc, outcomes, STEP_PLAN.length);
    if (line !== null) console.log(line);
  }
  for (const bc of cases) for (const line of sampleLines(bc, outcomes)) console.log(line);
  console.log(`wall time ${((performance.now() - started) / 1000).toFixed(1)} s on ${o.workers} worker(s)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
