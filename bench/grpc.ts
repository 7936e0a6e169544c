/**
 * bench/grpc: unary gRPC ModelInfer calls direct to two model backends, through
 * Switchyard and through nginx grpc_pass, in one run on loopback (issue 15).
 *
 *   npm run bench:grpc [-- --seconds 8 --warmup 2 --concurrency 32 --channels 2 --users 1000]
 *
 * The backends are the sample KServe v2 model (src/demo), stable v1 and candidate
 * v2, each in its own process. Every leg splits users 90/10 between them, sticky on the
 * x-user-id metadata header: direct, the load generator splits with Switchyard's bucket
 * function; Switchyard runs as `switchyard serve --workers 1` with a `protocol: grpc`
 * service and a 10 % canary (bench/lib/grpc-switchyard.ts); nginx runs with
 * `worker_processes 1`, `split_clients` on $http_x_user_id and `grpc_pass` over h2c
 * (bench/lib/grpc-nginx.ts). One process each, so the comparison is fair.
 *
 * Load: a child process (its CPU is never counted with a proxy's) keeps `concurrency`
 * unary calls with a request of four floats in flight over `channels` HTTP/2
 * connections per target, cycling over `users` users; a warm-up, then the measured run:
 * calls/s, p50, p99, failed calls, the backends' v2 share and the proxy's CPU per call
 * (Switchyard's process tree; nginx's worker, not its idle master). Quiet-machine
 * handling as in bench/proxy (bench/lib/quiet-run.ts).
 */
import { availableParallelism, cpus } from 'node:os';
import { createRequire } from 'node:module';
import { Child } from './lib/child.js';
import { cpuProbeMs, startCpuAccount } from './lib/cpu-account.js';
import { startGrpcLoad, type GrpcLoadPlan, type GrpcLoadResult, type GrpcRoute } from './lib/grpc-load.js';
import { startGrpcNginx } from './lib/grpc-nginx.js';
import { legLabel, printGrpcSummary, progressLine, type GrpcRun, type Leg } from './lib/grpc-report.js';
import { startGrpcSwitchyard } from './lib/grpc-switchyard.js';
import { nginxBinary, nginxVersion } from './lib/nginx.js';
import { stopOwnedOnExit } from './lib/proc-tree.js';
import { DISTURBED, measureQuietly } from './lib/quiet-run.js';
import { serveHasWorkersFlag } from './lib/switchyard.js';

const STICKY_HEADER = 'x-user-id';
const CANARY_PERCENT = 10;
/** The direct leg's own salt: a 10 % of users as any rollout would pick them. */
const DIRECT_SALT = 'bench-grpc-direct';
const LEGS: readonly Leg[] = ['direct', 'switchyard', 'nginx'];
/** A rough time to start a proxy, check its split and stop it, for the time budget. */
const LEG_SETUP_S = 6;

interface Options {
  seconds: number;
  warmup: number;
  concurrency: number;
  channels: number;
  users: number;
  quietWait: number;
  legs: Leg[];
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { seconds: 8, warmup: 2, concurrency: 32, channels: 2, users: 1000, quietWait: 5, legs: [...LEGS] };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '') ?? '';
    const value = argv[i + 1] ?? '';
    if (key === 'legs') opts.legs = value.split(',').filter(Boolean) as Leg[];
    else if (key === 'quiet-wait') opts.quietWait = Number(value);
    else if (key in opts && typeof opts[key as keyof Options] === 'number') (opts as unknown as Record<string, number>)[key] = Number(value);
    else throw new Error(`unknown option --${key} (options: --seconds --warmup --concurrency --channels --users --quiet-wait --legs ${LEGS.join(',')})`);
  }
  if (opts.legs.some((l) => !LEGS.includes(l))) throw new Error(`--legs: ${LEGS.join(', ')}`);
  for (const key of ['seconds', 'concurrency', 'channels', 'users'] as const) {
    if (!(opts[key] > 0)) throw new Error(`--${key} must be more than 0`);
  }
  return opts;
}

/** A leg's way in: where the load goes, the proxy's CPU, and the end of it. */
interface Entry {
  readonly route: GrpcRoute;
  readonly proxyCpuMs: (() => number) | null;
  readonly ensureCanary: () => Promise<string | null>;
  readonly stop: () => Promise<void>;
}

type Backend = Child<{ url: string }>;
type Backends = { readonly stable: Backend; readonly candidate: Backend };

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  stopOwnedOnExit();
  const skipped = new Map<Leg, string>();
  const nginx = nginxBinary();
  if (opts.legs.includes('nginx') && nginx === null) skipped.set('nginx', 'no nginx binary on PATH, /usr/sbin or /usr/local/sbin (apt-get install nginx; the bench installs nothing)');
  const workersFlag = serveHasWorkersFlag();
  printHeader(opts, nginx);

  const backend = (version: string): Promise<Backend> => Child.start(new URL('./lib/grpc-backend.js', import.meta.url), [version]);
  const backends: Backends = { stable: await backend('v1'), candidate: await backend('v2') };
  const runs: GrpcRun[] = [];
  const budgetS = opts.legs.length * (opts.warmup + opts.seconds + LEG_SETUP_S) * 1.5;
  const startedAt = Date.now();
  try {
    for (const [i, leg] of opts.legs.entries()) {
      if (skipped.has(leg)) continue;
      let entry: Entry;
      try {
        entry = await enter(leg, backends, opts, workersFlag, nginx);
      } catch (err) {
        const why = (err instanceof Error ? err.message : String(err)).trim().split('\n')[0] ?? '';
        console.log(`  ${legLabel(leg)}: did not start: ${why}`);
        skipped.set(leg, `did not start: ${why}`);
        continue;
      }
      const legsLeft = opts.legs.length - i - 1;
      const slackS = () => budgetS - (Date.now() - startedAt) / 1000 - legsLeft * (opts.warmup + opts.seconds + LEG_SETUP_S) - opts.seconds;
      try {
        runs.push(await runLeg(leg, entry, backends, opts, slackS));
      } finally {
        await entry.stop();
      }
    }
  } finally {
    await Promise.all([backends.stable.stop(), backends.candidate.stop()]);
  }
  console.log('');
  printGrpcSummary(runs, skipped, DISTURBED);
}

function printHeader(opts: Options, nginx: string | null): void {
  const grpcJs = (createRequire(import.meta.url)('@grpc/grpc-js/package.json') as { version: string }).version;
  const cores = availableParallelism();
  console.log(`bench/grpc · node ${process.version} · @grpc/grpc-js ${grpcJs} · nginx ${nginx === null ? '—' : nginxVersion(nginx)} · ${cores} cores (${cpus()[0]?.model ?? '?'})`);
  console.log(
    `Unary ModelInfer (KServe v2, 4 FP32), ${opts.concurrency} calls in flight over ${opts.channels} h2c connection(s) per target, ${opts.users} sticky users on ${STICKY_HEADER}, ` +
      `${100 - CANARY_PERCENT}/${CANARY_PERCENT} split v1/v2; warm-up ${opts.warmup} s + ${opts.seconds} s per leg.`,
  );
  console.log(
    `Fair by process count: Switchyard runs with --workers 1 (one process), nginx with worker_processes 1. Proxy CPU/call: Switchyard's process, nginx's worker.\n` +
      `The load generator, the two backends and the proxy share ${cores} cores on 127.0.0.1. "probe" is a fixed CPU loop timed before each run (${cpuProbeMs().toFixed(0)} ms now).\n`,
  );
}

async function enter(leg: Leg, backends: Backends, opts: Options, workersFlag: boolean, nginx: string | null): Promise<Entry> {
  const targets = { stable: backends.stable.ready.url, candidate: backends.candidate.ready.url, keyHeader: STICKY_HEADER, canaryPercent: CANARY_PERCENT, users: opts.users };
  if (leg === 'direct') {
    const route: GrpcRoute = { kind: 'direct', stable: targets.stable, candidate: targets.candidate, weightBp: CANARY_PERCENT * 100, salt: DIRECT_SALT };
    return { route, proxyCpuMs: null, ensureCanary: async () => null, stop: async () => undefined };
  }
  if (leg === 'switchyard') {
    const sy = await startGrpcSwitchyard({ ...targets, workersFlag });
    return { route: { kind: 'proxy', url: sy.url }, proxyCpuMs: sy.cpuMs, ensureCanary: sy.ensureCanary, stop: sy.stop };
  }
  const ng = await startGrpcNginx(nginx as string, { ...targets, workers: 1 });
  return { route: { kind: 'proxy', url: ng.url }, proxyCpuMs: ng.workersCpuMs, ensureCanary: async () => null, stop: ng.stop };
}

/** A fresh load generator for the leg: warm-up, then the measured run, on a quiet machine if one comes within the budget. */
async function runLeg(leg: Leg, entry: Entry, backends: Backends, opts: Options, slackS: () => number): Promise<GrpcRun> {
  const plan: GrpcLoadPlan = { route: entry.route, concurrency: opts.concurrency, channels: opts.channels, users: opts.users, keyHeader: STICKY_HEADER };
  const load = await startGrpcLoad(plan);
  try {
    return await measureQuietly({
      quietWait: opts.quietWait,
      seconds: opts.seconds,
      slackS,
      warmup: () => load.run(opts.warmup),
      measure: () => measure(leg, entry, backends, () => load.run(opts.seconds)),
      line: progressLine,
    });
  } finally {
    await load.stop();
  }
}

async function measure(leg: Leg, entry: Entry, backends: Backends, run: () => Promise<GrpcLoadResult>): Promise<GrpcRun> {
  const probeMs = cpuProbeMs();
  // Reading the stats zeroes the backends' call counts.
  await Promise.all([backends.stable.reset(), backends.candidate.reset(), backends.stable.stats(), backends.candidate.stats()]);
  const proxyCpuFrom = entry.proxyCpuMs?.() ?? 0;
  const account = startCpuAccount();
  const load = await run();
  const proxyCpuMs = entry.proxyCpuMs === null ? null : entry.proxyCpuMs() - proxyCpuFrom;
  const [s, c] = await Promise.all([backends.stable.stats<{ calls: number }>(), backends.candidate.stats<{ calls: number }>()]);
  const cpu = account.stop(s.cpuMs + c.cpuMs + (proxyCpuMs ?? 0) + load.cpuMs);
  const canaryRestored = await entry.ensureCanary();
  return { leg, load, proxyCpuMs, served: { stable: s.calls, candidate: c.calls }, backendCpuMs: s.cpuMs + c.cpuMs, cpu, probeMs, canaryRestored };
}

await main();
