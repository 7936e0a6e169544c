/**
 * bench/route-scale: what the number of services in the config costs the
 * request path. Two gateways, one with a single service and one with many
 * (1,000 by default), serve the same requests to the same service; the bench
 * prints the CPU each spends per request side by side with their ratio, and
 * the start-up time and memory of each.
 *
 *   npm run bench:route-scale [-- --services 1000 --reps 2 --rounds 5 --seconds 4 --warmup 1]
 *
 * Each gateway is `switchyard serve --config FILE` (one process, in-memory
 * store, log level warn), started fresh for every repetition, with a 10 %
 * sticky canary of the measured service (`/predict`, v1 and v2 on the one
 * backend) put in place through the admin API. The large config adds services
 * on `/models/mNNNN`, one in four for a tenant host only; the measured
 * service has the shortest prefix and no host, the rule a scan sorted
 * longest-first tries last. Load: wrk (Debian package `wrk`; the bench
 * installs nothing), 50 keep-alive connections, one thread, one sticky key per
 * request cycling over 1000 users, after a warm-up and 50 concurrent requests
 * that fill the upstream keep-alive pool. CPU is the gateway process's user +
 * system time over the measured run (/proc), divided by the requests wrk
 * completed. On a shared machine that figure drifts from minute to minute, so
 * each repetition alternates short runs of the two gateways for several rounds
 * (the order flips every round) and the ratio is taken within each round, of
 * two runs seconds apart; the median of those ratios is the figure. The route
 * lookup alone (RouteMatcher.locate on the same two configs, in this process)
 * is timed too, a figure no load generator disturbs. Start-up is from spawning
 * the process to its first proxied answer; RSS is read once it answers and
 * sampled under load. The gateways' idle CPU (timers: analysis, flush, resync)
 * is measured apart, over a few idle seconds, so that background work is not
 * mistaken for routing.
 *
 * Quiet-machine handling as in bench/proxy-core: before each run the bench
 * waits (within the time budget) for other processes to go quiet; a run during
 * which they used > 10 % of the CPUs is measured again once, the quieter kept.
 */
import { availableParallelism, cpus } from 'node:os';
import { Child } from './lib/child.js';
import { cpuProbeMs, startCpuAccount, type CpuShare } from './lib/cpu-account.js';
import { prime } from './lib/prime.js';
import { sampleTreeRss, stopOwnedOnExit, treeCpuMs } from './lib/proc-tree.js';
import { DISTURBED, measureQuietly, pct } from './lib/quiet-run.js';
import { fmtBytes, fmtInt, fmtRatio, median, renderTable } from './lib/table.js';
import { runWrk, wrkVersion, type LoadResult } from './lib/wrk.js';
import { STICKY_HEADER } from './route-scale-lib/config.js';
import { startScaleGateway, type ScaleGateway } from './route-scale-lib/gateway.js';
import { lookupNs } from './route-scale-lib/lookup.js';

const KEYS = 1000;
const IDLE_SECONDS = 5;
/** The issue's target: many services cost at most this much more CPU per request than one. */
const TARGET_RATIO = 1.05;

interface Options {
  services: number;
  reps: number;
  /** Alternating pairs of runs per repetition. */
  rounds: number;
  seconds: number;
  warmup: number;
  connections: number;
  threads: number;
  quietWait: number;
  /** Seconds the whole run may take; 0: the planned load time × 1.5. */
  budget: number;
}

interface Run {
  readonly rep: number;
  readonly round: number;
  readonly services: number;
  readonly load: LoadResult;
  readonly cpuMs: number;
  readonly peakRssBytes: number;
  readonly cpu: CpuShare | null;
  readonly probeMs: number;
}

interface Start {
  readonly services: number;
  readonly startupMs: number;
  readonly startedRssBytes: number;
  /** CPU per second of the idle gateway, ms. */
  readonly idleCpuMsPerS: number;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { services: 1000, reps: 2, rounds: 5, seconds: 4, warmup: 1, connections: 50, threads: 1, quietWait: 5, budget: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = (argv[i] ?? '').replace(/^--/, '').replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
    const value = Number(argv[i + 1]);
    if (!(key in opts) || !Number.isFinite(value)) {
      throw new Error(`unknown option or value ${argv[i]} ${argv[i + 1]} (options: --services --reps --rounds --seconds --warmup --connections --threads --quiet-wait --budget)`);
    }
    opts[key as keyof Options] = value;
  }
  if (!Number.isInteger(opts.services) || opts.services < 2) throw new Error('--services takes a whole number ≥ 2');
  return opts;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const wrk = wrkVersion();
  if (wrk === null) {
    console.error('bench/route-scale needs wrk as the load generator: apt-get install wrk (Debian/Ubuntu) or brew install wrk.');
    process.exit(2);
  }
  stopOwnedOnExit();
  const variants = [1, opts.services];
  const perRun = opts.warmup + opts.seconds + 2;
  const planned = opts.reps * opts.rounds * variants.length * perRun;
  if (opts.budget === 0) opts.budget = Math.ceil(planned * 1.5);
  const cores = availableParallelism();
  console.log(`bench/route-scale · node ${process.version} · ${wrk} · ${cores} cores (${cpus()[0]?.model ?? '?'})`);
  console.log(
    `1 vs ${fmtInt(opts.services)} services; ${opts.connections} keep-alive connections, ${opts.threads} wrk thread(s), ${KEYS} sticky keys, ` +
      `warm-up ${opts.warmup} s + ${opts.seconds} s per run, ${opts.reps} repetition(s) of ${opts.rounds} alternating rounds; about ${Math.ceil(planned / 60)} min of load.`,
  );
  console.log(`"probe" is a fixed CPU loop timed before each run (${cpuProbeMs().toFixed(0)} ms now): if it varies, the machine's speed varied.\n`);

  const backend = await Child.start<{ fastPort: number }>(new URL('./lib/backend.js', import.meta.url), []);
  const backendUrl = `http://127.0.0.1:${backend.ready.fastPort}`;
  const runs: Run[] = [];
  const starts: Start[] = [];
  const startedAt = Date.now();
  let runsLeft = opts.reps * opts.rounds * variants.length;
  const slackS = () => opts.budget - (Date.now() - startedAt) / 1000 - runsLeft * perRun - opts.seconds;
  try {
    for (let rep = 0; rep < opts.reps; rep++) {
      const gateways = await startGateways(variants, backendUrl, starts);
      try {
        for (let round = 0; round < opts.rounds; round++) {
          for (const gateway of rotate(gateways, rep + round)) {
            const load = { url: gateway.url, connections: opts.connections, threads: opts.threads, keys: KEYS, keyHeader: STICKY_HEADER };
            runsLeft--;
            runs.push(
              await measureQuietly({
                quietWait: opts.quietWait,
                seconds: opts.seconds,
                slackS,
                warmup: () => runWrk({ ...load, seconds: opts.warmup }),
                measure: () => measure(rep, round, gateway, backend, { ...load, seconds: opts.seconds }),
                line: progressLine,
              }),
            );
          }
        }
      } finally {
        await Promise.all(gateways.map((g) => g.stop()));
      }
    }
  } finally {
    await backend.stop();
  }
  console.log('');
  printSummary(opts, runs, starts, lookupNs(variants, backendUrl));
}

/** One after the other, so that neither start-up is slowed by the other; then their idle CPU, side by side. */
async function startGateways(variants: readonly number[], backendUrl: string, starts: Start[]): Promise<ScaleGateway[]> {
  const gateways: ScaleGateway[] = [];
  try {
    for (const services of variants) gateways.push(await startScaleGateway(services, backendUrl));
    const before = gateways.map((g) => treeCpuMs(g.pid));
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    gateways.forEach((g, i) => {
      const idleCpuMsPerS = (treeCpuMs(g.pid) - (before[i] ?? 0)) / IDLE_SECONDS;
      starts.push({ services: g.services, startupMs: g.startupMs, startedRssBytes: g.startedRssBytes, idleCpuMsPerS });
      console.log(`  started ${fmtInt(g.services).padStart(5)} service(s) in ${g.startupMs.toFixed(0)} ms, RSS ${fmtBytes(g.startedRssBytes)}, idle CPU ${idleCpuMsPerS.toFixed(1)} ms/s`);
    });
    return gateways;
  } catch (err) {
    await Promise.all(gateways.map((g) => g.stop()));
    throw err;
  }
}

async function measure(rep: number, round: number, gateway: ScaleGateway, backend: Child<object>, load: Parameters<typeof runWrk>[0]): Promise<Run> {
  await prime(load.url, load.connections, load.keyHeader);
  const probeMs = cpuProbeMs();
  await Promise.all([backend.reset(), backend.stats()]);
  const rss = sampleTreeRss(gateway.pid);
  const cpuFrom = treeCpuMs(gateway.pid);
  const account = startCpuAccount();
  const result = await runWrk(load);
  const cpuMs = treeCpuMs(gateway.pid) - cpuFrom;
  const backendStats = await backend.stats();
  const cpu = account.stop(backendStats.cpuMs + cpuMs);
  return { rep, round, services: gateway.services, load: result, cpuMs, peakRssBytes: rss.stop().peakBytes, cpu, probeMs };
}

function cpuPerRequestUs(run: Run): number {
  return run.load.requests > 0 ? (run.cpuMs * 1000) / run.load.requests : NaN;
}

function progressLine(run: Run): string {
  const other = run.cpu === null ? '' : ` | other procs ${pct(run.cpu.foreign)}`;
  return (
    `  rep ${run.rep + 1} round ${run.round + 1} ${fmtInt(run.services).padStart(5)} service(s) ${fmtInt(run.load.rps).padStart(7)} req/s  CPU ${cpuPerRequestUs(run).toFixed(1)} µs/req` +
    `  peak RSS ${fmtBytes(run.peakRssBytes)}  errors ${run.load.errors}${other} probe ${run.probeMs.toFixed(0)} ms`
  );
}

function printSummary(opts: Options, runs: readonly Run[], starts: readonly Start[], lookups: readonly number[]): void {
  const variants = [1, opts.services];
  const of = (services: number) => runs.filter((r) => r.services === services);
  const range = (xs: number[], fmt: (x: number) => string) => `${fmt(median(xs))}${xs.length < 2 ? '' : ` (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`}`;
  const us = (x: number) => x.toFixed(1);
  const head = ['services', 'req/s', 'CPU µs/req (min–max)', 'route lookup', 'start-up ms (min–max)', 'RSS started', 'peak RSS', 'idle CPU ms/s'];
  const rows = variants.map((services, i) => {
    const started = starts.filter((s) => s.services === services);
    return [
      fmtInt(services),
      fmtInt(median(of(services).map((r) => r.load.rps))),
      range(of(services).map(cpuPerRequestUs), us),
      `${(lookups[i] ?? NaN).toFixed(0)} ns`,
      range(started.map((s) => s.startupMs), (x) => x.toFixed(0)),
      fmtBytes(median(started.map((s) => s.startedRssBytes))),
      fmtBytes(Math.max(...of(services).map((r) => r.peakRssBytes))),
      us(median(started.map((s) => s.idleCpuMsPerS))),
    ];
  });
  console.log(`Medians over ${opts.reps} repetition(s) × ${opts.rounds} rounds, fresh gateways each repetition.`);
  console.log(renderTable(head, rows));

  // Each round's two runs are seconds apart: their ratio is the least disturbed by the machine's drift.
  const ratios = runs
    .filter((r) => r.services === opts.services)
    .map((many) => {
      const one = runs.find((r) => r.rep === many.rep && r.round === many.round && r.services === 1);
      return one === undefined ? NaN : cpuPerRequestUs(many) / cpuPerRequestUs(one);
    });
  const [oneUs, manyUs] = variants.map((services) => median(of(services).map(cpuPerRequestUs)));
  const ratio = median(ratios);
  const verdict = ratio <= TARGET_RATIO ? 'within' : 'NOT within';
  console.log(
    `\nCPU per request: 1 service ${us(oneUs ?? NaN)} µs · ${fmtInt(opts.services)} services ${us(manyUs ?? NaN)} µs · ` +
      `ratio ${fmtRatio(ratio)}, median of ${ratios.length} rounds (${fmtRatio(Math.min(...ratios))}–${fmtRatio(Math.max(...ratios))}); ${verdict} the ${fmtRatio(TARGET_RATIO)} target.`,
  );
  const errors = runs.filter((r) => r.load.errors > 0);
  if (errors.length > 0) console.log(`\nWARNING: ${errors.length} run(s) had errors or non-2xx answers; their figures are suspect.`);
  const disturbed = runs.filter((r) => (r.cpu?.foreign ?? 0) > DISTURBED);
  if (disturbed.length > 0) console.log(`\nWARNING: other processes used > ${pct(DISTURBED)} of the CPUs during ${disturbed.length} of ${runs.length} runs; the ratio within rounds is the figure to read.`);
}

function rotate<T>(list: readonly T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

await main();
