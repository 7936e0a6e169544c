/**
 * bench/proxy-core: the Switchyard proxy core beside direct-to-backend, http-proxy and
 * an undici variant of the core, in one run on loopback.
 *
 *   npm run build && npm run bench:proxy-core [-- --reps 2 --seconds 8 --warmup 2]
 *
 * Scenario "fast": the backend answers a small JSON at once; req/s and p99.
 * Scenario "slow": the backend answers after 20 ms; p50/p99, the latency each proxy adds
 * over direct as wrk sees it, and the time each request spends inside the proxy measured
 * from timestamps on both sides of it (less sensitive to load-generator and backend jitter).
 *
 * Load: wrk (Debian package `wrk`; the bench installs nothing and says so if it is
 * missing), 50 keep-alive connections, one wrk thread, one sticky key per request
 * (x-user-id cycling over 1000 users) so the core hashes every request into a 10 %
 * canary. The backend, each proxy and wrk are separate processes. Each run: warm-up,
 * then 50 concurrent requests so every proxy starts with a full keep-alive pool (wrk
 * stops with requests in flight, and a proxy that cancels them upstream loses those
 * connections), then the measured run. Repetitions are interleaved; medians are printed.
 * On a shared machine a run during which other processes used > 10 % of the CPUs is
 * measured again once, and the run waits (up to --quiet-wait s) for a quiet moment.
 *
 * Other variants for investigations: --variants direct,core,undici:pipelining=10+api=request
 * (undici knobs: pipelining, connections, api=stream|request, body=auto|always,
 * abort=signal|emitter|none). Profile the proxies with
 * BENCH_PROXY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
import { availableParallelism, cpus } from 'node:os';
import { Child } from './lib/child.js';
import { cpuProbeMs, startCpuAccount, type CpuShare } from './lib/cpu-account.js';
import { STICKY_HEADER } from './lib/build-core.js';
import type { ProcStats } from './lib/proc-stats.js';
import { proxyExecArgv } from './lib/proxy-node-args.js';
import { fmtBytes, fmtInt, fmtMs, fmtRatio, median, renderTable } from './lib/table.js';
import { prime } from './lib/prime.js';
import { DISTURBED, measureQuietly, pct } from './lib/quiet-run.js';
import { inProxyTimes, type InProxy } from './lib/trace.js';
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
  /** Seconds the whole run may take; waits and re-measurements use only what the runs leave of it. */
  budget: number;
  variants: string[];
  scenarios: Scenario[];
}

const LABELS: Record<string, string> = {
  direct: 'direct (the limit)',
  core: 'core (node:http Agent)',
  'http-proxy': 'http-proxy (keep-alive)',
  undici: 'core on undici Pool',
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
  /** Time of a fixed CPU loop just before the run (see cpuProbeMs): higher means a slower machine. */
  readonly probeMs: number;
  /** Slow scenario: time spent inside the proxy per request, from timestamps on both sides of it. */
  readonly inProxy: InProxy | null;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = {
    reps: 2,
    seconds: 8,
    warmup: 2,
    connections: 50,
    threads: 1,
    slowMs: 20,
    quietWait: 10,
    budget: 180,
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
    else throw new Error(`unknown option --${key} (options: --reps --seconds --warmup --connections --threads --slow-ms --quiet-wait --budget --variants --scenarios)`);
  }
  if (!opts.variants.includes('direct')) opts.variants.unshift('direct');
  const unknown = opts.scenarios.filter((s) => s !== 'fast' && s !== 'slow');
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')} (fast, slow)`);
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
      `${opts.reps} interleaved repetition(s); ${Math.ceil(total / 60)} min of load, at most ${Math.ceil(Math.max(total, opts.budget) / 60)} min with waits for a quiet machine.`,
  );
  console.log(`wrk, the backend and the proxy are separate processes sharing ${cores} cores: a proxy competes with its own load generator and backend.`);
  console.log(`"probe" is a fixed CPU loop timed before each run (${cpuProbeMs().toFixed(0)} ms now): if it varies, the machine's speed varied; compare runs of one repetition.\n`);

  const backend = await Child.start<{ fastPort: number; slowPort: number }>(new URL('./lib/backend.js', import.meta.url), [], {
    BENCH_SLOW_MS: String(opts.slowMs),
  });
  const runs: Run[] = [];
  const peakRss = new Map<string, number>();
  const startedAt = Date.now();
  let runsLeft = opts.reps * opts.scenarios.length * opts.variants.length;
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
            .map(async (v) =>
              proxies.set(
                v,
                await Child.start<{ port: number }>(
                  new URL('./lib/proxy-child.js', import.meta.url),
                  [v, backendUrl],
                  // Timestamps only where latency is the figure; the throughput runs stay untouched.
                  { BENCH_TRACE: scenario === 'slow' ? '1' : '0' },
                  [...proxyExecArgv],
                ),
              ),
            ),
        );
        const order = rotate(opts.variants, rep);
        for (const variant of order) {
          const proxy = proxies.get(variant) ?? null;
          const url = `http://127.0.0.1:${proxy === null ? port : proxy.ready.port}/predict`;
          const load = { url, connections: opts.connections, threads: opts.threads, keys: 1000, keyHeader: STICKY_HEADER };
          runsLeft--;
          // Waiting and re-measuring only spend the slack of the time budget.
          const slackS = () => opts.budget - (Date.now() - startedAt) / 1000 - runsLeft * perRun - opts.seconds;
          const run = await measureQuietly({
            quietWait: opts.quietWait,
            seconds: opts.seconds,
            slackS,
            warmup: () => runWrk({ ...load, seconds: opts.warmup }),
            measure: () => measure(rep, scenario, variant, backend, proxy, { ...load, seconds: opts.seconds }),
            line: progressLine,
          });
          runs.push(run);
          if (run.proxy !== null) peakRss.set(variant, Math.max(peakRss.get(variant) ?? 0, run.proxy.maxRssBytes));
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
  await prime(load.url, load.connections, load.keyHeader);
  const probeMs = cpuProbeMs();
  await Promise.all([backend.reset(), proxy?.reset(), backend.stats()]);
  const account = startCpuAccount();
  const result = await runWrk(load);
  const [proxyStats, backendStats] = await Promise.all([proxy?.stats() ?? null, backend.stats<Run['backend']>()]);
  const cpu = account.stop(backendStats.cpuMs + (proxyStats?.cpuMs ?? 0));
  const [proxyTrace, backendTrace] = await Promise.all([proxy?.trace() ?? null, backend.trace()]);
  const inProxy = proxyTrace === null ? null : inProxyTimes(proxyTrace, backendTrace);
  return { rep, scenario, variant, load: result, proxy: proxyStats, backend: backendStats, cpu, probeMs, inProxy };
}


function rotate<T>(list: readonly T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

function progressLine(run: Run): string {
  const l = run.load;
  const p = run.proxy;
  const canary = run.backend.requests > 0 && run.variant !== 'direct' && run.variant !== 'http-proxy' ? ` v2 ${((100 * run.backend.canary) / run.backend.requests).toFixed(1)}%` : '';
  const other = `${run.cpu === null ? '' : ` | other procs ${pct(run.cpu.foreign)}`} probe ${run.probeMs.toFixed(0)} ms`;
  const proxyPart = p === null ? '' : ` | proxy cpu ${((100 * p.cpuMs) / (l.durationUs / 1000)).toFixed(0)}% elu ${(p.elu * 100).toFixed(0)}% gc ${p.gcCount}×/${p.gcTotalMs.toFixed(0)} ms max ${p.gcMaxMs.toFixed(1)} ms, loop delay p99 ${p.loopDelayP99Ms.toFixed(2)} ms`;
  const inside = run.inProxy === null ? '' : ` | in proxy p50 ${run.inProxy.totalP50.toFixed(2)} p99 ${run.inProxy.totalP99.toFixed(2)} ms (request path p99 ${run.inProxy.requestP99.toFixed(2)}, response path p99 ${run.inProxy.responseP99.toFixed(2)})`;
  return (
    `  rep ${run.rep + 1} ${run.scenario.padEnd(4)} ${run.variant.padEnd(10)} ${fmtInt(l.rps).padStart(7)} req/s  p50 ${fmtMs(l.p50Us)} p99 ${fmtMs(l.p99Us)}` +
    ` max ${fmtMs(l.maxUs)}  errors ${l.errors}  backend conns ${run.backend.connections}${canary}${other}${inside}${proxyPart}`
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
  if (hasFast) head.push('fast req/s (min–max)', '×direct', 'fast p99');
  if (hasSlow) head.push(`${opts.slowMs}ms p50`, `${opts.slowMs}ms p99`, 'added p50', 'added p99', 'in-proxy p50', 'in-proxy p99');
  head.push(`CPU/req ${opts.scenarios.join('·')}`, 'peak RSS');
  const rows = opts.variants.map((v) => {
    const row = [LABELS[v] ?? v];
    if (hasFast) row.push(fmtInt(m(v, 'fast', 'rps')) + spread(v, 'fast', 'rps'), fmtRatio(m(v, 'fast', 'rps') / rpsDirect), fmtMs(m(v, 'fast', 'p99Us')));
    if (hasSlow) {
      const isDirect = v === 'direct';
      const inside = (key: 'totalP50' | 'totalP99') => {
        const xs = pick(v, 'slow').flatMap((r) => (r.inProxy === null ? [] : [r.inProxy[key] * 1000]));
        return xs.length === 0 ? '—' : fmtMs(median(xs));
      };
      row.push(
        fmtMs(m(v, 'slow', 'p50Us')),
        fmtMs(m(v, 'slow', 'p99Us')),
        isDirect ? '—' : fmtMs(added(v, 'p50Us'), true),
        isDirect ? '—' : fmtMs(added(v, 'p99Us'), true),
        inside('totalP50'),
        inside('totalP99'),
      );
    }
    const perReq = (scenario: Scenario) => {
      const xs = pick(v, scenario).filter((r) => r.proxy !== null && r.load.requests > 0).map((r) => ((r.proxy?.cpuMs ?? 0) * 1000) / r.load.requests);
      return xs.length === 0 ? '—' : `${median(xs).toFixed(0)} µs`;
    };
    row.push(v === 'direct' ? '—' : opts.scenarios.map(perReq).join('·'), peakRss.has(v) ? fmtBytes(peakRss.get(v) ?? 0) : '—');
    return row;
  });
  console.log(`Medians of ${opts.reps} interleaved repetition(s). "added" = proxy minus direct in the same repetition, as wrk sees it;`);
  console.log(`"in proxy" = time each request spent inside the proxy (arrival → backend, backend answer → response finished), from timestamps`);
  console.log(`taken on both sides of the proxy on one monotonic clock: the same quantity without the load generator's and backend's jitter.`);
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
    if (hasSlow) ratioHead.push(`${opts.slowMs}ms p99`, `added p99 (core vs other)`);
    console.log('');
    console.log(renderTable(ratioHead, ratioRows));
  }
}

await main();
