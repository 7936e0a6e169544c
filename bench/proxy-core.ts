/**
 * bench/proxy-core: the Switchyard proxy core beside direct-to-backend, http-proxy and
 * an undici variant of the core, in one run on loopback.
 *
 *   npm run build && npm run bench:proxy-core [-- --reps 2 --seconds 8 --warmup 2]
 *
 * Scenario "fast": the backend answers a small JSON at once; req/s and p99.
 * Scenario "slow": the backend answers after 20 ms; p50/p99 and the latency each proxy adds over direct.
 * The load generator is wrk (Debian package `wrk`), 50 keep-alive connections, one
 * sticky key per request (x-user-id, cycling 1000 users) so the core hashes every
 * request into a 10 % canary. Backend, each proxy and wrk run as separate processes.
 */
import { availableParallelism, cpus } from 'node:os';
import { Child } from './lib/child.js';
import { startCpuAccount, waitForQuiet, type CpuShare } from './lib/cpu-account.js';
import { STICKY_HEADER } from './lib/build-core.js';
import type { ProcStats } from './lib/proc-stats.js';
import { fmtBytes, fmtInt, fmtMs, fmtRatio, median, renderTable } from './lib/table.js';
import { runWrk, wrkVersion, type LoadResult } from './lib/wrk.js';

type Scenario = 'fast' | 'slow';

interface Options {
  reps: number;
  seconds: number;
  warmup: number;
  connections: number;
  threads: number;
  slowMs: number;
  /** Seconds to wait for other processes to go quiet before a run. */
  quietWait: number;
  variants: string[];
  scenarios: Scenario[];
}

const LABELS: Record<string, string> = {
  direct: 'direct (the limit)',
  core: 'switchyard core (node:http Agent)',
  'http-proxy': 'http-proxy (keep-alive Agent)',
  undici: 'core on undici (Pool.stream)',
};

interface Run {
  readonly rep: number;
  readonly scenario: Scenario;
  readonly variant: string;
  readonly load: LoadResult;
  readonly proxy: ProcStats | null;
  readonly backend: ProcStats & { connections: number; requests: number; canary: number };
  /** CPU used by processes other than the bench's during the run (Linux), null elsewhere. */
  readonly cpu: CpuShare | null;
}

/** A run where other processes took more than this share of the machine is measured again once. */
const DISTURBED = 0.1;

function parseArgs(argv: string[]): Options {
  const opts: Options = {
    reps: 2,
    seconds: 8,
    warmup: 2,
    connections: 50,
    threads: 1,
    slowMs: 20,
    quietWait: 10,
    variants: ['direct', 'core', 'http-proxy', 'undici'],
    scenarios: ['fast', 'slow'],
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '') ?? '';
    const value = argv[i + 1] ?? '';
    if (key === 'variants') opts.variants = value.split(',');
    else if (key === 'scenarios') opts.scenarios = value.split(',') as Scenario[];
    else if (key === 'slow-ms') opts.slowMs = Number(value);
    else if (key === 'quiet-wait') opts.quietWait = Number(value);
    else if (key in opts && typeof opts[key as keyof Options] === 'number') (opts as unknown as Record<string, number>)[key] = Number(value);
    else throw new Error(`unknown option --${key} (options: --reps --seconds --warmup --connections --threads --slow-ms --quiet-wait --variants --scenarios)`);
  }
  if (!opts.variants.includes('direct')) opts.variants.unshift('direct');
  return opts;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const wrk = wrkVersion();
  if (wrk === null) {
    console.error('bench/proxy-core needs wrk as the load generator: apt-get install wrk (Debian/Ubuntu) or brew install wrk.');
    process.exit(2);
  }
  const perRun = opts.warmup + opts.seconds;
  const total = opts.reps * opts.scenarios.length * opts.variants.length * perRun;
  const cores = availableParallelism();
  console.log(`bench/proxy-core · node ${process.version} · ${wrk} · ${cores} cores (${cpus()[0]?.model ?? '?'})`);
  console.log(
    `${opts.connections} keep-alive connections, ${opts.threads} wrk thread(s), warm-up ${opts.warmup} s + ${opts.seconds} s per run, ` +
      `${opts.reps} interleaved repetition(s); about ${Math.ceil(total / 60)} min.`,
  );
  console.log(`wrk, the backend and the proxy are separate processes sharing ${cores} cores: a proxy competes with its own load generator and backend.\n`);

  const backend = await Child.start<{ fastPort: number; slowPort: number }>(new URL('./lib/backend.js', import.meta.url), [], {
    BENCH_SLOW_MS: String(opts.slowMs),
  });
  const runs: Run[] = [];
  const peakRss = new Map<string, number>();
  try {
    for (let rep = 0; rep < opts.reps; rep++) {
      for (const scenario of opts.scenarios) {
        const port = scenario === 'fast' ? backend.ready.fastPort : backend.ready.slowPort;
        const backendUrl = `http://127.0.0.1:${port}`;
        // Fresh proxy processes for every scenario and repetition; the order rotates between repetitions.
        const proxies = new Map<string, Child<{ port: number }>>();
        await Promise.all(
          opts.variants
            .filter((v) => v !== 'direct')
            .map(async (v) => proxies.set(v, await Child.start<{ port: number }>(new URL('./lib/proxy-child.js', import.meta.url), [v, backendUrl]))),
        );
        const order = rotate(opts.variants, rep);
        for (const variant of order) {
          const proxy = proxies.get(variant) ?? null;
          const url = `http://127.0.0.1:${proxy === null ? port : proxy.ready.port}/predict`;
          const load = { url, connections: opts.connections, threads: opts.threads, keys: 1000, keyHeader: STICKY_HEADER };
          const busy = await waitForQuiet(DISTURBED, opts.quietWait * 1000);
          if (busy !== null && busy >= DISTURBED) console.log(`    (machine still ${pct(busy)} busy after waiting ${opts.quietWait} s; measuring anyway)`);
          await runWrk({ ...load, seconds: opts.warmup });
          let run = await measure(rep, scenario, variant, backend, proxy, { ...load, seconds: opts.seconds });
          if ((run.cpu?.foreign ?? 0) > DISTURBED) {
            console.log(`${progressLine(run)}\n    (other processes used ${pct(run.cpu?.foreign)} of the machine: measuring again, keeping the quieter run)`);
            const again = await measure(rep, scenario, variant, backend, proxy, { ...load, seconds: opts.seconds });
            if ((again.cpu?.foreign ?? 0) < (run.cpu?.foreign ?? 0)) run = again;
          }
          runs.push(run);
          if (run.proxy !== null) peakRss.set(variant, Math.max(peakRss.get(variant) ?? 0, run.proxy.maxRssBytes));
          console.log(progressLine(run));
        }
        await Promise.all([...proxies.values()].map((p) => p.stop()));
      }
    }
  } finally {
    await backend.stop();
  }
  console.log('');
  printSummary(opts, runs, peakRss);
}

async function measure(
  rep: number,
  scenario: Scenario,
  variant: string,
  backend: Child<object>,
  proxy: Child<object> | null,
  load: Parameters<typeof runWrk>[0],
): Promise<Run> {
  await Promise.all([backend.reset(), proxy?.reset(), backend.stats()]);
  const account = startCpuAccount();
  const result = await runWrk(load);
  const [proxyStats, backendStats] = await Promise.all([proxy?.stats() ?? null, backend.stats<Run['backend']>()]);
  const cpu = account.stop(backendStats.cpuMs + (proxyStats?.cpuMs ?? 0));
  return { rep, scenario, variant, load: result, proxy: proxyStats, backend: backendStats, cpu };
}

const pct = (x: number | undefined): string => (x === undefined ? '?' : `${(x * 100).toFixed(0)}%`);

function rotate<T>(list: readonly T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

function progressLine(run: Run): string {
  const l = run.load;
  const p = run.proxy;
  const canary = run.backend.requests > 0 && run.variant !== 'direct' && run.variant !== 'http-proxy' ? ` v2 ${((100 * run.backend.canary) / run.backend.requests).toFixed(1)}%` : '';
  const other = run.cpu === null ? '' : ` | other procs ${pct(run.cpu.foreign)}`;
  const proxyPart = p === null ? '' : ` | proxy cpu ${((100 * p.cpuMs) / (l.durationUs / 1000)).toFixed(0)}% elu ${(p.elu * 100).toFixed(0)}% gc ${p.gcCount}×/${p.gcTotalMs.toFixed(0)} ms max ${p.gcMaxMs.toFixed(1)} ms, loop delay p99 ${p.loopDelayP99Ms.toFixed(2)} ms`;
  return (
    `  rep ${run.rep + 1} ${run.scenario.padEnd(4)} ${run.variant.padEnd(10)} ${fmtInt(l.rps).padStart(7)} req/s  p50 ${fmtMs(l.p50Us)} p99 ${fmtMs(l.p99Us)}` +
    ` max ${fmtMs(l.maxUs)}  errors ${l.errors}  backend conns ${run.backend.connections}${canary}${other}${proxyPart}`
  );
}

function printSummary(opts: Options, runs: readonly Run[], peakRss: ReadonlyMap<string, number>): void {
  const pick = (variant: string, scenario: Scenario) => runs.filter((r) => r.variant === variant && r.scenario === scenario);
  /** Added latency is paired with the direct run of the same repetition, then the median is taken. */
  const added = (variant: string, key: 'p50Us' | 'p99Us'): number => {
    const diffs = pick(variant, 'slow').map((r) => {
      const base = runs.find((d) => d.variant === 'direct' && d.scenario === 'slow' && d.rep === r.rep);
      return base === undefined ? NaN : r.load[key] - base.load[key];
    });
    return median(diffs);
  };
  const m = (variant: string, scenario: Scenario, key: 'rps' | 'p50Us' | 'p99Us') => median(pick(variant, scenario).map((r) => r.load[key]));
  const spread = (variant: string, scenario: Scenario, key: 'rps') => {
    const xs = pick(variant, scenario).map((r) => r.load[key]);
    return xs.length < 2 ? '' : ` (${fmtInt(Math.min(...xs))}–${fmtInt(Math.max(...xs))})`;
  };
  const hasFast = opts.scenarios.includes('fast');
  const hasSlow = opts.scenarios.includes('slow');
  const rpsDirect = m('direct', 'fast', 'rps');
  const head = ['variant'];
  if (hasFast) head.push('fast: req/s (min–max)', '× direct', 'p99');
  if (hasSlow) head.push(`${opts.slowMs} ms: p50`, 'p99', 'added p50', 'added p99');
  head.push('proxy peak RSS');
  const rows = opts.variants.map((v) => {
    const row = [LABELS[v] ?? v];
    if (hasFast) row.push(fmtInt(m(v, 'fast', 'rps')) + spread(v, 'fast', 'rps'), fmtRatio(m(v, 'fast', 'rps') / rpsDirect), fmtMs(m(v, 'fast', 'p99Us')));
    if (hasSlow) {
      const isDirect = v === 'direct';
      row.push(fmtMs(m(v, 'slow', 'p50Us')), fmtMs(m(v, 'slow', 'p99Us')), isDirect ? '—' : fmtMs(added(v, 'p50Us'), true), isDirect ? '—' : fmtMs(added(v, 'p99Us'), true));
    }
    row.push(peakRss.has(v) ? fmtBytes(peakRss.get(v) ?? 0) : '—');
    return row;
  });
  console.log(`Medians of ${opts.reps} interleaved repetition(s); added latency = proxy minus direct in the same repetition.`);
  console.log(renderTable(head, rows));

  const errors = runs.filter((r) => r.load.errors > 0);
  if (errors.length > 0) console.log(`\nWARNING: ${errors.length} run(s) had errors or non-2xx answers; their figures are suspect.`);
  const disturbed = runs.filter((r) => (r.cpu?.foreign ?? 0) > DISTURBED);
  if (disturbed.length > 0) {
    console.log(`\nWARNING: other processes used > ${pct(DISTURBED)} of the CPUs during ${disturbed.length} of ${runs.length} runs (see "other procs" above); compare within a repetition.`);
  }

  const ratioRows: string[][] = [];
  for (const other of opts.variants.filter((v) => v !== 'core')) {
    if (!opts.variants.includes('core')) break;
    const row = [`core / ${other}`];
    if (hasFast) row.push(fmtRatio(m('core', 'fast', 'rps') / m(other, 'fast', 'rps')), fmtRatio(m('core', 'fast', 'p99Us') / m(other, 'fast', 'p99Us')));
    if (hasSlow) {
      row.push(
        fmtRatio(m('core', 'slow', 'p99Us') / m(other, 'slow', 'p99Us')),
        other === 'direct' ? '—' : `${fmtMs(added('core', 'p99Us'), true)} vs ${fmtMs(added(other, 'p99Us'), true)}`,
      );
    }
    ratioRows.push(row);
  }
  if (ratioRows.length > 0) {
    const ratioHead = ['ratio'];
    if (hasFast) ratioHead.push('fast req/s', 'fast p99');
    if (hasSlow) ratioHead.push(`${opts.slowMs} ms p99`, 'added p99 (core vs other)');
    console.log('');
    console.log(renderTable(ratioHead, ratioRows));
  }
}

await main();
