/**
 * bench/fleet: a fleet of gateway replicas sharing one Redis, measured on one
 * host with real processes: a `redis-server` the bench starts, N replicas of
 * `switchyard serve` (the built CLI, one process each, the same config with
 * their own ports) and sample models (src/demo/sample-backend-main.ts), all on
 * 127.0.0.1. In one run:
 *
 *   1. a weight change reaching every proxy: p50/p99/max over `--writes` writes;
 *   2. the analysis lease holder killed with SIGKILL while a canary regresses:
 *      how soon another replica takes the lease and judges, and how many
 *      rollbacks the audit log shows (one expected);
 *   3. a rolling restart of every replica under steady load through a small
 *      round-robin front that honours `/readyz`: failed requests;
 *   4. Redis commands per second and Redis CPU for a grid of fleets, idle and
 *      with traffic to every service on every replica, the formula fitted to
 *      them, and Redis alone under flush writes as fast as the bench sends
 *      them, for where its one thread runs out.
 *
 *   npm run bench:fleet [-- --replicas 10 --services 200 --writes 100 --kills 3 --rolling-rps 150
 *                          --grid-replicas 1,5,10 --grid-services 50,200 --grid-rates 0.5,2 --window 10 --quick]
 *
 * 1–3 run on one fleet of `--replicas` × `--services` with one-second analysis
 * rounds and a 1 s drain delay; 4 runs at the gateway's default timings
 * (flush 1 s, resync 5 s, analysis 5 s). Needs Debian's `redis-server`; the
 * bench installs nothing. `--quick` is a small fleet for trying the bench out.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSampleModel, type SampleModel } from './fleet-lib/backends.js';
import { fleetConfigYaml, serviceName, servicePath, type FleetConfig, type Timings } from './fleet-lib/config.js';
import { killLeaseHolder, type KillTrial, type LeaseFleet } from './fleet-lib/lease-kill.js';
import { PacedLoad } from './fleet-lib/load.js';
import { measurePropagation } from './fleet-lib/propagation.js';
import { measureCell, type Cell } from './fleet-lib/redis-load.js';
import { RedisStats } from './fleet-lib/redis-stats.js';
import { stressFlushes } from './fleet-lib/redis-stress.js';
import { startReplica, startReplicas, type Replica } from './fleet-lib/replica.js';
import { gridLines, leaseLines, propagationLines, rollingLines } from './fleet-lib/report.js';
import { rollingRestart } from './fleet-lib/rolling.js';
import { stopOwnedOnExit } from './lib/proc-tree.js';
import { redisServerBinary, startRedis } from './lib/redis-server.js';

interface Options {
  replicas: number;
  services: number;
  writes: number;
  kills: number;
  /** Requests per second to the regressing service during the lease trials. */
  leaseRps: number;
  rollingRps: number;
  /** How often the front asks each replica's /readyz, ms (the fleet's drainDelay is 1 s). */
  probeMs: number;
  gridReplicas: number[];
  gridServices: number[];
  gridRates: number[];
  window: number;
  warmup: number;
  maxRps: number;
}

const DEFAULTS: Options = {
  replicas: 10,
  services: 200,
  writes: 100,
  kills: 3,
  leaseRps: 100,
  rollingRps: 150,
  probeMs: 200,
  gridReplicas: [1, 5, 10],
  gridServices: [50, 200],
  gridRates: [0.5, 2],
  window: 10,
  warmup: 3,
  maxRps: 1500,
};

const QUICK: Partial<Options> = { replicas: 3, services: 20, writes: 30, kills: 1, gridReplicas: [1, 3], gridServices: [20], gridRates: [1], window: 5 };

/** The fast timings' analysis interval (fleet-lib/config.ts). */
const FAST_INTERVAL_MS = 1_000;
const LEASE_SERVICE = 1;
const SETTLE_MS = 3_000;
/** Connections writing flushes in the Redis-alone check: enough to keep Redis busy, few enough for the bench's one thread. */
const STRESS_CLIENTS = 4;

const kebab = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

function parseArgs(argv: readonly string[]): Options {
  const given = new Map<string, string>();
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--quick') quick = true;
    else if (arg.startsWith('--') && argv[i + 1] !== undefined) given.set(arg, argv[++i] as string);
    else throw new Error(`unknown argument ${arg} (options: ${Object.keys(DEFAULTS).map(kebab).join(' ')} --quick)`);
  }
  const opts: Options = { ...DEFAULTS, ...(quick ? QUICK : {}) };
  for (const [flag, text] of given) {
    const key = Object.keys(DEFAULTS).find((k) => kebab(k) === flag) as keyof Options | undefined;
    if (key === undefined) throw new Error(`unknown option ${flag} (options: ${Object.keys(DEFAULTS).map(kebab).join(' ')} --quick)`);
    const list = Array.isArray(DEFAULTS[key]);
    const values = (list ? text.split(',') : [text]).map(Number);
    // Rates may be fractions (0.5: each pair every other second); everything else counts things.
    const fits = key === 'gridRates' ? (v: number) => v > 0 : (v: number) => Number.isInteger(v) && v >= 1;
    if (!values.every(fits)) throw new Error(`${flag} takes ${key === 'gridRates' ? 'numbers > 0' : 'whole numbers ≥ 1'}${list ? ', comma-separated' : ''} (got ${text})`);
    (opts as unknown as Record<string, number | number[]>)[key] = list ? values : (values[0] as number);
  }
  if (opts.replicas < 2) throw new Error('--replicas must be at least 2: the lease must have somewhere to go');
  if (opts.services < 2) throw new Error('--services must be at least 2: one for the weight writes, one for the lease trials');
  opts.gridReplicas.sort((a, b) => b - a);
  opts.gridRates.sort((a, b) => a - b);
  return opts;
}

interface Setup {
  readonly runDir: string;
  readonly redisUrl: string;
  readonly stable: SampleModel;
  readonly candidate: SampleModel;
  readonly regressing: SampleModel;
}

function writeConfig(s: Setup, services: number, timings: Timings, file: string): string {
  const config: FleetConfig = {
    services,
    redisUrl: s.redisUrl,
    stable: s.stable.url,
    candidate: s.candidate.url,
    regressing: { service: serviceName(LEASE_SERVICE), candidate: s.regressing.url },
    timings,
  };
  const path = join(s.runDir, file);
  writeFileSync(path, fleetConfigYaml(config));
  return path;
}

/** Names replacements r3, r3.1, r3.2, … so the logs of one slot sort together. */
function successor(name: string): string {
  const [slot, generation = '0'] = name.split('.');
  return `${slot}.${Number(generation) + 1}`;
}

async function fleetPhases(opts: Options, s: Setup): Promise<string[]> {
  const configPath = writeConfig(s, opts.services, 'fast', 'fleet-fast.yaml');
  const replace = (old: Replica) => startReplica(successor(old.name), configPath, s.runDir);
  console.log(`Starting ${opts.replicas} replicas × ${opts.services} services (one-second analysis rounds, drainDelay 1 s)…`);
  let replicas = await startReplicas(opts.replicas, 'r', configPath, s.runDir);
  try {
    const starts = replicas.map((r) => r.startMs);
    console.log(`  ready in ${Math.min(...starts).toFixed(0)}–${Math.max(...starts).toFixed(0)} ms (started side by side)\n`);

    console.log(`1. A weight change reaching all ${opts.replicas} proxies (${opts.writes} writes)`);
    const propagation = propagationLines(await measurePropagation(replicas, opts.writes, s.redisUrl), opts.replicas);
    console.log(`${propagation.join('\n')}\n`);

    console.log(`2. The analysis lease holder killed with SIGKILL while a 50 % canary regresses (${opts.kills} trial(s), ${opts.leaseRps} req/s to it)`);
    const fleet: LeaseFleet = { replicas, restart: replace };
    let turn = 0;
    const load = new PacedLoad({ rps: opts.leaseRps, tickMs: 10, maxInFlight: 512 }, () => {
      const r = fleet.replicas[turn++ % fleet.replicas.length] as Replica;
      return { origin: r.proxyUrl, path: servicePath(LEASE_SERVICE), key: `user-${turn % 1000}` };
    });
    load.start();
    const trials: KillTrial[] = [];
    try {
      for (let i = 1; i <= opts.kills; i++) {
        trials.push(await killLeaseHolder(fleet, serviceName(LEASE_SERVICE), s.regressing, FAST_INTERVAL_MS, i));
        const t = trials.at(-1) as KillTrial;
        console.log(`  trial ${i}: killed ${t.killed}; lease taken by ${t.newHolder ?? 'nobody'} after ${t.takeoverMs ?? '—'} ms; rollbacks in the audit log: ${t.rollbacks.length}`);
      }
    } finally {
      await load.stop();
      replicas = fleet.replicas;
    }
    const lease = leaseLines(trials, FAST_INTERVAL_MS);
    console.log(`${lease.join('\n')}\n`);

    console.log(`3. Rolling restart of all ${replicas.length} replicas through a round-robin front (readiness probed every ${opts.probeMs} ms), ${opts.rollingRps} req/s`);
    const rolled = await rollingRestart(replicas, { rps: opts.rollingRps, services: opts.services, probeMs: opts.probeMs, settleMs: SETTLE_MS, replace });
    replicas = rolled.replicas;
    const rolling = rollingLines(rolled);
    console.log(`${rolling.join('\n')}\n`);
    return [...propagation, '', ...lease, '', ...rolling];
  } finally {
    await Promise.all(replicas.map((r) => r.terminate()));
  }
}

async function gridPhase(opts: Options, s: Setup, redis: RedisStats): Promise<string[]> {
  console.log(
    `4. Redis load at the default timings: replicas ${opts.gridReplicas.join(', ')} × services ${opts.gridServices.join(', ')}, idle and at ${opts.gridRates.join(', ')} req/s per (replica, service) pair; ${opts.window} s windows`,
  );
  const cells: Cell[] = [];
  for (const services of opts.gridServices) {
    await redis.flush();
    const configPath = writeConfig(s, services, 'production', `fleet-${services}.yaml`);
    let replicas = await startReplicas(opts.gridReplicas[0] as number, `g${services}-`, configPath, s.runDir);
    try {
      for (const count of opts.gridReplicas) {
        await Promise.all(replicas.slice(count).map((r) => r.terminate()));
        replicas = replicas.slice(0, count);
        console.log(`  ${count} replica(s) × ${services} services`);
        cells.push(await measureCell(replicas, redis, { services, rates: opts.gridRates, windowS: opts.window, warmupS: opts.warmup, maxRps: opts.maxRps }, console.log));
      }
    } finally {
      await Promise.all(replicas.map((r) => r.terminate()));
    }
  }
  const stress = await stressFlushes(s.redisUrl, redis, { clients: STRESS_CLIENTS, services: Math.max(...opts.gridServices), seconds: opts.window });
  const lines = gridLines(cells, stress);
  console.log(`\n${lines.join('\n')}\n`);
  return lines;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const binary = redisServerBinary();
  if (binary === null) {
    console.error('bench/fleet needs redis-server: apt-get install redis-server (Debian/Ubuntu).');
    process.exit(2);
  }
  stopOwnedOnExit();
  console.log(
    `bench/fleet · ${new Date().toISOString()} · node ${process.version} · ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'})\n`,
  );
  const runDir = mkdtempSync(join(tmpdir(), 'sy-bench-fleet-'));
  const redisServer = await startRedis(binary);
  const models = await Promise.all([startSampleModel('v1'), startSampleModel('v2'), startSampleModel('v2')]);
  const [stable, candidate, regressing] = models as [SampleModel, SampleModel, SampleModel];
  const redis = await RedisStats.connect(redisServer.url);
  let ok = false;
  try {
    const setup: Setup = { runDir, redisUrl: redisServer.url, stable, candidate, regressing };
    const fleet = await fleetPhases(opts, setup);
    const grid = await gridPhase(opts, setup, redis);
    console.log(`Summary (${opts.replicas} replicas × ${opts.services} services for 1–3):\n\n${[...fleet, '', ...grid].join('\n')}`);
    ok = true;
  } finally {
    await redis.close();
    await Promise.all(models.map((m) => m.stop()));
    await redisServer.stop();
    if (ok) rmSync(runDir, { recursive: true, force: true });
    else console.error(`The replicas' logs are kept in ${runDir}`);
  }
}

await main();
