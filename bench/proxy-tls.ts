/**
 * bench/proxy-tls: what TLS costs Switchyard, on loopback, in one run: the gateway with
 * (1) a plain HTTP listener to an HTTP target (the baseline), (2) an HTTP listener to an
 * HTTPS target verified against a private CA, (3) a TLS listener (wrk over https with
 * keep-alive) to an HTTP target, (4) TLS on both.
 *
 *   npm run bench:proxy-tls [-- --workers 1,2 --reps 3 --seconds 6 --warmup 1 --variants plain,target,listener,both]
 *
 * Switchyard runs as in bench/proxy (`switchyard serve --config FILE`, in-memory store, a
 * 10 % sticky canary on x-user-id put in place through the admin API, both versions on the
 * one backend), with `proxy.tls: { cert, key }` and `services.<s>.tls: { ca, serverName }`
 * where the variant asks for them. The certificates come from a private CA that Debian's
 * `openssl` makes in a temporary directory (bench/lib/test-ca.ts; ECDSA P-256). The
 * backend (bench/lib/tls-backend.ts) answers at once on a plain and an HTTPS port and
 * counts TCP connections, TLS handshakes and resumed sessions per port; a hook loaded
 * into Switchyard's processes with --import (bench/lib/tls-listener-hook.ts) counts the
 * handshakes its listener accepted.
 *
 * Load: wrk, 50 keep-alive connections, one thread, one sticky key per request over 1000
 * users, as in bench/proxy. Each run: warm-up, 50 concurrent requests to fill every
 * keep-alive pool, then the measured run: req/s, p50, p99, CPU per request of the
 * gateway's process tree; the counters are read at the start, after a third of the run
 * and at its end, so a reader sees handshakes stay flat while requests triple (with
 * keep-alive working). Fresh gateways for every repetition; the order of the variants
 * rotates between repetitions; medians with min–max. Quiet-machine handling as in
 * bench/proxy (bench/lib/quiet-run.ts).
 */
import { availableParallelism, cpus } from 'node:os';
import { Child } from './lib/child.js';
import { cpuProbeMs, startCpuAccount } from './lib/cpu-account.js';
import { primeHttps } from './lib/https-probe.js';
import { prime } from './lib/prime.js';
import { stopOwnedOnExit, treeCpuMs } from './lib/proc-tree.js';
import {
  countsBetween,
  KINDS,
  kindOf,
  label,
  printSummary,
  progressLine,
  tlsOnListener,
  tlsToTarget,
  type Kind,
  type Snapshot,
  type TlsRun,
} from './lib/proxy-tls-report.js';
import { proxyExecArgv } from './lib/proxy-node-args.js';
import { DISTURBED, measureQuietly } from './lib/quiet-run.js';
import { serveHasWorkersFlag, startSwitchyard } from './lib/switchyard.js';
import { makeBenchPki, opensslVersion, type BenchPki } from './lib/test-ca.js';
import type { TlsBackendCounts, TlsBackendReady } from './lib/tls-backend.js';
import { LISTENER_HOOK_ARGV, listenerCounter, type ListenerCounts } from './lib/tls-listener-counts.js';
import { runWrk, wrkVersion, type LoadOptions } from './lib/wrk.js';

const STICKY_HEADER = 'x-user-id';
const KEYS = 1000;
/** Counter files are written at most every 50 ms: wait this long before reading them. */
const FLUSH_MS = 150;
/** A rough start-up time of one gateway (readiness, canary, the 1000-key canary check), for the time plan. */
const START_S = 4;


interface Options {
  reps: number;
  seconds: number;
  warmup: number;
  connections: number;
  threads: number;
  quietWait: number;
  /** Seconds the whole run may take; 0: the planned time × 1.15 (about 3 minutes with the defaults). */
  budget: number;
  workers: number[];
  kinds: Kind[];
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { reps: 3, seconds: 6, warmup: 1, connections: 50, threads: 1, quietWait: 5, budget: 0, workers: [1], kinds: [...KINDS] };
  const list = (v: string) => v.split(',').filter(Boolean);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '') ?? '';
    const value = argv[i + 1] ?? '';
    if (key === 'workers') opts.workers = list(value).map(Number);
    else if (key === 'variants') opts.kinds = list(value) as Kind[];
    else if (key === 'quiet-wait') opts.quietWait = Number(value);
    else if (key in opts && typeof opts[key as keyof Options] === 'number') (opts as unknown as Record<string, number>)[key] = Number(value);
    else throw new Error(`unknown option --${key} (options: --workers 1,2 --reps --seconds --warmup --connections --threads --quiet-wait --budget --variants ${KINDS.join(',')})`);
  }
  if (opts.workers.some((w) => !Number.isInteger(w) || w < 1)) throw new Error('--workers takes whole numbers ≥ 1, e.g. 1,2');
  if (opts.kinds.some((k) => !KINDS.includes(k))) throw new Error(`--variants: ${KINDS.join(', ')}`);
  // Every ratio is against the baseline.
  if (!opts.kinds.includes('plain')) opts.kinds.unshift('plain');
  if (!(opts.seconds >= 3)) throw new Error('--seconds must be at least 3 (the counters are read after a third of the run)');
  return opts;
}

/** A gateway under test, started fresh for each repetition. */
interface Proxy {
  readonly variant: string;
  readonly pid: number;
  readonly url: string;
  /** The CA the bench trusts for a TLS listener, else null. */
  readonly listenerCa: string | null;
  readonly listenerCounts: (() => ListenerCounts) | null;
  readonly ensureCanary: () => Promise<string | null>;
  readonly stop: () => Promise<void>;
}

type Backend = Child<TlsBackendReady>;

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const wrk = wrkVersion();
  const openssl = opensslVersion();
  if (wrk === null || openssl === null) {
    const missing = [wrk === null ? 'wrk' : '', openssl === null ? 'openssl' : ''].filter(Boolean).join(' and ');
    console.error(`bench/proxy-tls needs ${missing} (it installs nothing): apt-get install wrk openssl`);
    process.exit(2);
  }
  stopOwnedOnExit();
  const workersFlag = serveHasWorkersFlag();
  if (!workersFlag && opts.workers.some((w) => w !== 1)) {
    console.log('This build\'s `switchyard serve` has no --workers flag: measuring 1 worker only.');
    opts.workers = [1];
  }
  const variants = opts.workers.flatMap((w) => opts.kinds.map((k) => `${k}@${w}`));
  const plan = new TimePlan(opts, variants.length);
  const pki: BenchPki = makeBenchPki();
  printHeader(opts, plan, pki, wrk, openssl);

  const backend: Backend = await Child.start(new URL('./lib/tls-backend.js', import.meta.url), [], { BENCH_TLS_CERT: pki.backend.cert, BENCH_TLS_KEY: pki.backend.key });
  const runs: TlsRun[] = [];
  const failed = new Map<string, string>();
  try {
    for (let rep = 0; rep < opts.reps; rep++) {
      const startingAt = Date.now();
      const proxies = await startProxies(variants.filter((v) => !failed.has(v)), backend, pki, workersFlag, failed);
      plan.started(variants.length);
      console.log(`  rep ${rep + 1}: ${proxies.size} gateway(s) started in ${((Date.now() - startingAt) / 1000).toFixed(1)} s`);
      try {
        for (const variant of rotate(variants, rep)) {
          const proxy = proxies.get(variant);
          plan.ran();
          if (proxy === undefined) continue;
          try {
            runs.push(await measureVariant(rep, proxy, backend, opts, plan));
          } catch (err) {
            console.log(`  rep ${rep + 1} ${label(variant)}: FAILED: ${oneLine(err)}`);
            failed.set(variant, oneLine(err));
          }
        }
      } finally {
        await Promise.all([...proxies.values()].map((p) => p.stop()));
      }
    }
  } finally {
    await backend.stop();
    pki.remove();
  }
  console.log('');
  printSummary(opts, variants, runs, failed, DISTURBED);
}

/** The time the run may take: waits for a quiet machine and measuring again spend only what the remaining runs and start-ups do not need. */
class TimePlan {
  readonly perRunS: number;
  readonly plannedS: number;
  private readonly startedAt = Date.now();
  private runsLeft: number;
  private startsLeft: number;

  constructor(private readonly opts: Options, variants: number) {
    this.perRunS = opts.warmup + opts.seconds + 1.5;
    this.runsLeft = opts.reps * variants;
    this.startsLeft = opts.reps * variants;
    this.plannedS = opts.reps * variants * (this.perRunS + START_S);
    if (opts.budget === 0) opts.budget = Math.ceil(this.plannedS * 1.15);
  }

  ran(): void {
    this.runsLeft--;
  }

  started(gateways: number): void {
    this.startsLeft -= gateways;
  }

  readonly slackS = (): number =>
    this.opts.budget - (Date.now() - this.startedAt) / 1000 - this.runsLeft * this.perRunS - this.startsLeft * START_S - this.opts.seconds;
}

function printHeader(opts: Options, plan: TimePlan, pki: BenchPki, wrk: string, openssl: string): void {
  const cores = availableParallelism();
  const midS = opts.seconds / 3;
  console.log(`bench/proxy-tls · ${new Date().toISOString()} · node ${process.version} (OpenSSL ${process.versions.openssl}) · ${wrk.replace(/\s*Copyright.*$/, '')} · ${openssl} · ${cores} cores (${cpus()[0]?.model ?? '?'})`);
  console.log(
    `${opts.connections} keep-alive connections, ${opts.threads} wrk thread(s), ${KEYS} sticky keys, warm-up ${opts.warmup} s + ${opts.seconds} s per run (counters read at ${midS.toFixed(0)} s and ${opts.seconds} s), ` +
      `${opts.reps} interleaved repetition(s), workers ${opts.workers.join(',')}; about ${Math.ceil(plan.plannedS / 60)} min, at most ${Math.ceil(opts.budget / 60)} min with waits for a quiet machine.`,
  );
  console.log(
    `Certificates: a private CA made by openssl (${pki.keyType}); the HTTPS target is verified against it with serverName ${pki.backendName}; wrk does not verify the listener's.\n` +
      `wrk, the backend and the gateway share ${cores} cores on loopback. "probe" is a fixed CPU loop timed before each run (${cpuProbeMs().toFixed(0)} ms now).\n`,
  );
}

/** Warm-up, then the measured run, on a quiet machine if one comes within the time plan. */
async function measureVariant(rep: number, proxy: Proxy, backend: Backend, opts: Options, plan: TimePlan): Promise<TlsRun> {
  const load: LoadOptions = { url: proxy.url, connections: opts.connections, threads: opts.threads, seconds: opts.seconds, keys: KEYS, keyHeader: STICKY_HEADER };
  const snapshot = async (): Promise<Snapshot> => ({ backend: await backend.stats<TlsBackendCounts>(), listener: proxy.listenerCounts?.() ?? null });
  // Counters before the warm-up, or after the previous measurement when a disturbed run is measured again.
  let before: Snapshot | null = null;
  return measureQuietly({
    quietWait: opts.quietWait,
    seconds: opts.seconds,
    slackS: plan.slackS,
    warmup: async () => {
      before = await snapshot();
      await runWrk({ ...load, seconds: opts.warmup });
    },
    measure: async () => {
      const r = await measure(rep, proxy, backend, load, opts.seconds / 3, snapshot, before);
      before = r.after;
      return r.run;
    },
    line: progressLine,
  });
}

/**
 * Starts one gateway per variant, one after the other (their start-ups would share the
 * two cores anyway). A variant whose gateway does not start is reported and left out.
 */
async function startProxies(variants: readonly string[], backend: Backend, pki: BenchPki, workersFlag: boolean, failed: Map<string, string>): Promise<Map<string, Proxy>> {
  const proxies = new Map<string, Proxy>();
  try {
    for (const variant of variants) {
      const kind = kindOf(variant);
      const workers = Number(variant.split('@')[1]);
      const counter = tlsOnListener(kind) ? listenerCounter() : null;
      const target = tlsToTarget(kind) ? `https://127.0.0.1:${backend.ready.tlsPort}` : `http://127.0.0.1:${backend.ready.plainPort}`;
      try {
        const sy = await startSwitchyard({
          backend: target,
          workers,
          workersFlag,
          keyHeader: STICKY_HEADER,
          execArgv: [...proxyExecArgv, ...(counter === null ? [] : LISTENER_HOOK_ARGV)],
          ...(counter === null ? {} : { env: counter.env, listenerTls: { ...pki.listener, ca: pki.ca } }),
          ...(tlsToTarget(kind) ? { targetTls: { ca: pki.ca, serverName: pki.backendName } } : {}),
        });
        const stop = async () => {
          await sy.stop();
          counter?.remove();
        };
        proxies.set(variant, { variant, pid: sy.pid, url: sy.url, listenerCa: counter === null ? null : pki.ca, listenerCounts: counter?.read ?? null, ensureCanary: () => sy.ensureCanary(), stop });
      } catch (err) {
        counter?.remove();
        console.log(`  ${label(variant)}: the gateway did not start: ${oneLine(err)}`);
        failed.set(variant, `the gateway did not start: ${oneLine(err)}`);
      }
    }
  } catch (err) {
    await Promise.all([...proxies.values()].map((p) => p.stop()));
    throw err;
  }
  return proxies;
}

const oneLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).trim().split('\n')[0] ?? '';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Primes the pools, then runs wrk and reads the counters at its start, after `midS` and
 * at its end. `before` is the snapshot taken before the warm-up (or after the previous
 * measurement of the same gateway): what lies between is the pools' filling.
 */
async function measure(
  rep: number,
  proxy: Proxy,
  backend: Backend,
  load: LoadOptions,
  midS: number,
  snapshot: () => Promise<Snapshot>,
  before: Snapshot | null,
): Promise<{ run: TlsRun; after: Snapshot }> {
  if (proxy.listenerCa === null) await prime(load.url, load.connections, load.keyHeader);
  else await primeHttps(load.url, proxy.listenerCa, load.connections, load.keyHeader);
  await sleep(FLUSH_MS);
  const probeMs = cpuProbeMs();
  await backend.reset();
  const start = await snapshot();
  const cpuFrom = treeCpuMs(proxy.pid);
  const account = startCpuAccount();
  const running = runWrk(load);
  const midway = sleep(midS * 1000).then(snapshot);
  const result = await running;
  const proxyCpuMs = treeCpuMs(proxy.pid) - cpuFrom;
  const backendCpuMs = (await backend.stats()).cpuMs;
  const cpu = account.stop(backendCpuMs + proxyCpuMs);
  const mid = await midway;
  await sleep(FLUSH_MS);
  const end = await snapshot();
  const canaryRestored = await proxy.ensureCanary();
  const kind = kindOf(proxy.variant);
  return {
    run: {
      rep,
      variant: proxy.variant,
      load: result,
      proxyCpuMs,
      cpu,
      probeMs,
      canaryRestored,
      fill: countsBetween(kind, before ?? start, start),
      mid: countsBetween(kind, start, mid),
      end: countsBetween(kind, start, end),
      midS,
      upstreamNegotiated: tlsToTarget(kind) ? end.backend.negotiated : '',
      listenerNegotiated: end.listener?.negotiated ?? '',
    },
    after: end,
  };
}

function rotate<T>(list: readonly T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

await main();
