/**
 * bench/proxy: Switchyard, the real product, beside nginx split_clients and direct to
 * the backend, in one run on loopback.
 *
 *   npm run bench:proxy [-- --workers 1,2 --reps 3 --seconds 10 --warmup 2]
 *
 * Switchyard runs as an operator runs it (`switchyard serve --config FILE --workers N`,
 * in-memory store, log level warn) with a 10 % sticky canary on x-user-id put in place
 * through the admin API after start. nginx (Debian package) runs from its own prefix
 * directory with `split_clients` on the same header for a 90/10 split onto two upstreams,
 * upstream keep-alive, HTTP/1.1 upstream, access log off and the same number of worker
 * processes; it sets the same request and response headers as Switchyard (version,
 * request id, X-Forwarded-*). Both version pools point at the one backend, which counts
 * the v2 share and its TCP connections (upstream keep-alive at work shows as few).
 *
 * Load: wrk (bench/lib/wrk.ts): 50 keep-alive connections, one thread, one sticky key per
 * request cycling over 1000 users. Scenario "fast": the backend answers at once (req/s,
 * p50, p99, CPU per request of the proxy's whole process tree). Scenario "slow": it
 * answers after 20 ms; latency each proxy adds over direct, paired with the direct run of
 * the same repetition. Each run: warm-up, 50 concurrent requests to fill every keep-alive
 * pool (bench/lib/prime.ts), then the measured run. Fresh proxies for every scenario and
 * repetition; the order of the variants rotates between repetitions; medians with
 * min–max. Memory is the whole process tree (Switchyard primary + workers, nginx master
 * + workers) read from /proc: its peak RSS, sampled every 250 ms during load, and its RSS
 * with 10 000 idle keep-alive client connections held open by a child process (after the
 * fast runs, so the proxy has served load; each connection made one request first).
 *
 * Quiet-machine handling as in bench/proxy-core: before each run the bench waits (within
 * the time budget) for other processes to go quiet; a run during which they used > 10 %
 * of the CPUs is measured again once and the quieter run kept.
 *
 * Profile Switchyard with BENCH_PROXY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"
 * (node:cluster workers inherit the flags; e.g. with --scenarios fast --reps 1), then
 * `node dist/bench/lib/profile-summary.js /tmp/prof`.
 */
import { availableParallelism, cpus } from 'node:os';
import { Child } from './lib/child.js';
import { cpuProbeMs, startCpuAccount, type CpuShare } from './lib/cpu-account.js';
import { holdIdleConnections } from './lib/idle-connections.js';
import { nginxBinary, nginxVersion, openFilesLimit, startNginx } from './lib/nginx.js';
import { prime } from './lib/prime.js';
import { proxyExecArgv } from './lib/proxy-node-args.js';
import { DISTURBED, measureQuietly, pct } from './lib/quiet-run.js';
import { sampleTreeRss, stopOwnedOnExit, treeCpuMs, treePids, treePssBytes, treeRssBytes } from './lib/proc-tree.js';
import { printProxySummary, type IdleRun, type Run, type Scenario } from './lib/proxy-report.js';
import { serveHasWorkersFlag, startSwitchyard } from './lib/switchyard.js';
import { runWrk, wrkVersion } from './lib/wrk.js';

const STICKY_HEADER = 'x-user-id';
const KEYS = 1000;


export interface Options {
  reps: number;
  seconds: number;
  warmup: number;
  connections: number;
  threads: number;
  slowMs: number;
  /** Idle keep-alive client connections held open against each proxy. */
  idle: number;
  quietWait: number;
  /** Seconds the whole run may take; 0: the planned load time × 1.5. */
  budget: number;
  workers: number[];
  proxies: string[];
  scenarios: Scenario[];
}

function parseArgs(argv: string[]): Options {
  const opts: Options = {
    reps: 3,
    seconds: 10,
    warmup: 2,
    connections: 50,
    threads: 1,
    slowMs: 20,
    idle: 10_000,
    quietWait: 10,
    budget: 0,
    workers: [1],
    proxies: ['switchyard', 'nginx'],
    scenarios: ['fast', 'slow', 'idle'],
  };
  const list = (v: string) => v.split(',').filter(Boolean);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '') ?? '';
    const value = argv[i + 1] ?? '';
    if (key === 'workers') opts.workers = list(value).map(Number);
    else if (key === 'proxies') opts.proxies = list(value);
    else if (key === 'scenarios') opts.scenarios = list(value) as Scenario[];
    else if (key === 'slow-ms') opts.slowMs = Number(value);
    else if (key === 'quiet-wait') opts.quietWait = Number(value);
    else if (key in opts && typeof opts[key as keyof Options] === 'number') (opts as unknown as Record<string, number>)[key] = Number(value);
    else throw new Error(`unknown option --${key} (options: --workers 1,2 --reps --seconds --warmup --connections --threads --slow-ms --idle --quiet-wait --budget --proxies switchyard,nginx --scenarios fast,slow,idle)`);
  }
  if (opts.workers.some((w) => !Number.isInteger(w) || w < 1)) throw new Error('--workers takes whole numbers ≥ 1, e.g. 1,2');
  if (opts.scenarios.some((s) => !['fast', 'slow', 'idle'].includes(s))) throw new Error('--scenarios: fast, slow, idle');
  if (opts.proxies.some((p) => p !== 'switchyard' && p !== 'nginx')) throw new Error('--proxies: switchyard, nginx');
  return opts;
}

/** A proxy under test, started fresh for each scenario and repetition. */
interface Proxy {
  readonly variant: string;
  readonly pid: number;
  readonly url: string;
  /** Switchyard: puts the canary back if it moved; what it found, or null. */
  readonly ensureCanary: () => Promise<string | null>;
  readonly stop: () => Promise<void>;
}

type Backend = Child<{ fastPort: number; slowPort: number }>;
type BackendStats = { cpuMs: number; connections: number; requests: number; canary: number };

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const wrk = wrkVersion();
  const nginx = opts.proxies.includes('nginx') ? nginxBinary() : 'unused';
  if (wrk === null || nginx === null) {
    const missing = [wrk === null ? 'wrk' : '', nginx === null ? 'nginx' : ''].filter(Boolean).join(' and ');
    console.error(`bench/proxy needs ${missing} (it installs nothing): apt-get install wrk nginx`);
    process.exit(2);
  }
  stopOwnedOnExit();
  const workersFlag = serveHasWorkersFlag();
  if (!workersFlag && opts.workers.some((w) => w !== 1)) {
    console.log('This build\'s `switchyard serve` has no --workers flag yet: measuring 1 worker only.');
    opts.workers = [1];
  }
  const fdLimit = openFilesLimit();
  if (opts.idle > fdLimit - 2_000) {
    console.log(`The open-files limit is ${fdLimit}: holding ${fdLimit - 2_000} idle connections instead of ${opts.idle}.`);
    opts.idle = Math.max(0, fdLimit - 2_000);
  }
  const variants = ['direct', ...opts.workers.flatMap((w) => opts.proxies.map((p) => `${p}@${w}`))];
  const loadScenarios = opts.scenarios.filter((s): s is Exclude<Scenario, 'idle'> => s !== 'idle');
  const perRun = opts.warmup + opts.seconds + 2;
  const planned = opts.reps * (loadScenarios.length * variants.length * perRun + (opts.scenarios.includes('idle') ? (variants.length - 1) * 12 : 0));
  if (opts.budget === 0) opts.budget = Math.ceil(planned * 1.5);
  const cores = availableParallelism();
  console.log(`bench/proxy · node ${process.version} · ${wrk} · nginx ${nginx === 'unused' ? '—' : nginxVersion(nginx)} · ${cores} cores (${cpus()[0]?.model ?? '?'})`);
  console.log(
    `${opts.connections} keep-alive connections, ${opts.threads} wrk thread(s), ${KEYS} sticky keys, warm-up ${opts.warmup} s + ${opts.seconds} s per run, ` +
      `${opts.reps} interleaved repetition(s), workers ${opts.workers.join(',')}; about ${Math.ceil(planned / 60)} min, at most ${Math.ceil(opts.budget / 60)} min with waits for a quiet machine.`,
  );
  console.log(`wrk, the backend and the proxy share ${cores} cores. "probe" is a fixed CPU loop timed before each run (${cpuProbeMs().toFixed(0)} ms now): if it varies, the machine's speed varied.\n`);

  const backend: Backend = await Child.start(new URL('./lib/backend.js', import.meta.url), [], { BENCH_SLOW_MS: String(opts.slowMs) });
  const runs: Run[] = [];
  const idleRuns: IdleRun[] = [];
  const startedAt = Date.now();
  let runsLeft = opts.reps * loadScenarios.length * variants.length;
  const slackS = () => opts.budget - (Date.now() - startedAt) / 1000 - runsLeft * perRun - opts.seconds;
  try {
    for (let rep = 0; rep < opts.reps; rep++) {
      for (const scenario of loadScenarios) {
        const port = scenario === 'fast' ? backend.ready.fastPort : backend.ready.slowPort;
        const backendUrl = `http://127.0.0.1:${port}`;
        const proxies = await startProxies(opts, variants, backendUrl, workersFlag, nginx);
        try {
          for (const variant of rotate(variants, rep)) {
            const proxy = proxies.get(variant) ?? null;
            const url = proxy?.url ?? `${backendUrl}/predict`;
            const load = { url, connections: opts.connections, threads: opts.threads, keys: KEYS, keyHeader: STICKY_HEADER };
            runsLeft--;
            const run = await measureQuietly({
              quietWait: opts.quietWait,
              seconds: opts.seconds,
              slackS,
              warmup: () => runWrk({ ...load, seconds: opts.warmup }),
              measure: () => measure(rep, scenario, variant, backend, proxy, { ...load, seconds: opts.seconds }),
              line: progressLine,
            });
            runs.push(run);
          }
          if (scenario === 'fast' && opts.scenarios.includes('idle') && opts.idle > 0) {
            for (const variant of rotate(variants, rep)) {
              const proxy = proxies.get(variant);
              if (proxy === undefined) continue;
              const idle = await measureIdle(rep, proxy, opts.idle);
              console.log(idleLine(idle));
              idleRuns.push(idle);
            }
          }
        } finally {
          await Promise.all([...proxies.values()].map((p) => p.stop()));
        }
      }
    }
  } finally {
    await backend.stop();
  }
  console.log('');
  printProxySummary(opts, variants, runs, idleRuns, DISTURBED);
}

async function startProxies(opts: Options, variants: readonly string[], backend: string, workersFlag: boolean, nginxBin: string): Promise<Map<string, Proxy>> {
  const proxies = new Map<string, Proxy>();
  try {
    for (const variant of variants.filter((v) => v !== 'direct')) {
      const [kind, w] = variant.split('@');
      const workers = Number(w);
      if (kind === 'switchyard') {
        const sy = await startSwitchyard({ backend, workers, workersFlag, keyHeader: STICKY_HEADER, execArgv: proxyExecArgv });
        proxies.set(variant, { variant, pid: sy.pid, url: sy.url, ensureCanary: () => sy.ensureCanary(), stop: sy.stop });
      } else {
        const ng = await startNginx(nginxBin, { backend, workers, keyHeader: STICKY_HEADER, workerConnections: opts.idle + 2_048, canaryPercent: 10 });
        proxies.set(variant, { variant, pid: ng.pid, url: ng.url, ensureCanary: async () => null, stop: ng.stop });
      }
    }
  } catch (err) {
    await Promise.all([...proxies.values()].map((p) => p.stop()));
    throw err;
  }
  return proxies;
}

async function measure(rep: number, scenario: Scenario, variant: string, backend: Backend, proxy: Proxy | null, load: Parameters<typeof runWrk>[0]): Promise<Run> {
  await prime(load.url, load.connections, load.keyHeader);
  const probeMs = cpuProbeMs();
  await Promise.all([backend.reset(), backend.stats()]);
  const proxyCpuFrom = proxy === null ? 0 : treeCpuMs(proxy.pid);
  const rss = proxy === null ? null : sampleTreeRss(proxy.pid);
  const account = startCpuAccount();
  const result = await runWrk(load);
  const memory = rss?.stop() ?? null;
  const proxyCpuMs = proxy === null ? null : treeCpuMs(proxy.pid) - proxyCpuFrom;
  const backendStats = await backend.stats<BackendStats>();
  const cpu: CpuShare | null = account.stop(backendStats.cpuMs + (proxyCpuMs ?? 0));
  const canaryRestored = (await proxy?.ensureCanary()) ?? null;
  return {
    rep,
    scenario,
    variant,
    load: result,
    proxyCpuMs,
    peakRssBytes: memory?.peakBytes ?? null,
    peakProcessRssBytes: memory?.peakProcessBytes ?? null,
    processes: proxy === null ? 0 : treePids(proxy.pid).length,
    backend: backendStats,
    cpu,
    probeMs,
    canaryRestored,
  };
}

async function measureIdle(rep: number, proxy: Proxy, count: number): Promise<IdleRun> {
  const beforeBytes = treeRssBytes(proxy.pid);
  const hold = await holdIdleConnections(proxy.url, count, STICKY_HEADER);
  try {
    // Let the proxy settle (timers, a GC) with the connections idle before reading its memory.
    await new Promise((r) => setTimeout(r, 2_000));
    const rssBytes = treeRssBytes(proxy.pid);
    const pssBytes = treePssBytes(proxy.pid);
    const alive = await hold.alive();
    return { rep, variant: proxy.variant, beforeBytes, rssBytes, pssBytes, ...hold.opened, alive };
  } finally {
    await hold.close();
  }
}

const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MB`;

function rotate<T>(list: readonly T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

function progressLine(run: Run): string {
  const l = run.load;
  const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;
  const canary = run.variant === 'direct' || run.backend.requests === 0 ? '' : ` v2 ${((100 * run.backend.canary) / run.backend.requests).toFixed(1)}%`;
  const proxy =
    run.proxyCpuMs === null || l.requests === 0
      ? ''
      : ` | proxy cpu ${((100 * run.proxyCpuMs) / (l.durationUs / 1000)).toFixed(0)}% ${((run.proxyCpuMs * 1000) / l.requests).toFixed(0)} µs/req, peak RSS ${mb(run.peakRssBytes ?? 0)} in ${run.processes} process(es), largest ${mb(run.peakProcessRssBytes ?? 0)}`;
  const other = `${run.cpu === null ? '' : ` | other procs ${pct(run.cpu.foreign)}`} probe ${run.probeMs.toFixed(0)} ms`;
  const restored = run.canaryRestored === null ? '' : `\n    NOTE: the canary had left 10 % by the end of this run (${run.canaryRestored}); put back`;
  return (
    `  rep ${run.rep + 1} ${run.scenario.padEnd(4)} ${run.variant.padEnd(12)} ${Math.round(l.rps).toLocaleString('en-US').padStart(7)} req/s  p50 ${ms(l.p50Us)} p99 ${ms(l.p99Us)}` +
    ` max ${ms(l.maxUs)}  errors ${l.errors}  backend conns ${run.backend.connections}${canary}${proxy}${other}${restored}`
  );
}

function idleLine(run: IdleRun): string {
  const perConnKb = run.opened > 0 ? ((run.rssBytes - run.beforeBytes) / run.opened / 1024).toFixed(1) : '—';
  return (
    `  rep ${run.rep + 1} idle ${run.variant.padEnd(12)} ${run.opened} connections open in ${(run.ms / 1000).toFixed(1)} s (${run.failed} failed${run.firstError === null ? '' : `: ${run.firstError}`}), ` +
    `${run.alive} still open after 2 s | RSS ${mb(run.beforeBytes)} → ${mb(run.rssBytes)} (${perConnKb} KB per connection), PSS ${mb(run.pssBytes)}`
  );
}

await main();
