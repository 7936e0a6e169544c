/**
 * bench/analysis-round: how long one round of the analysis loop takes over a
 * fleet of services, on the in-memory store and on Redis, against the
 * interval it must fit in.
 *
 *   npm run bench:analysis-round [-- --services 1000 --concurrency 16 --rounds 10 --history 3 --rps 20 --seed 1 --serial 1]
 *
 * Every service has a canary on its first step with `--history` minutes of
 * rollout behind it and a 10-min baseline before it: seeded 1-s windows of
 * both versions with latency histograms, written through Store.addWindows as
 * the flusher writes them. A new AnalysisLoop (the gateway's defaults, a
 * driven clock, a silent logger) then runs its first round, which reads every
 * baseline and all history, and `--rounds` steady rounds, each after one
 * interval of new windows was written. Only tick() is timed. With `--serial 1`
 * a second loop judges one service at a time, to show what the bound buys.
 * Redis is a redis-server the bench starts on a free port in a temporary
 * directory (Debian's `redis-server` on PATH; without it the Redis rows are skipped).
 */
import { availableParallelism } from 'node:os';
import { silentLogger } from '../src/app/logger.js';
import type { Store } from '../src/app/store.js';
import { createRedisStore } from '../src/store/redis/connect.js';
import { MemoryStore } from '../src/store/memory/memory-store.js';
import { buildFleet, type Fleet } from './analysis-round-lib/fleet.js';
import { DrivenClock, prepareStore, timeRounds, type RoundTimes } from './analysis-round-lib/measure.js';
import { FleetTraffic } from './analysis-round-lib/traffic.js';
import { stopOwnedOnExit } from './lib/proc-tree.js';
import { redisServerBinary, startRedis } from './lib/redis-server.js';
import { median, renderMarkdownTable, renderTable } from './lib/table.js';

interface Options {
  services: number;
  concurrency: number;
  rounds: number;
  /** Minutes of rollout history before the first round. */
  history: number;
  /** Requests per second of each service. */
  rps: number;
  seed: number;
  /** 1: also a loop with concurrency 1. */
  serial: number;
}

/** 2025-01-06 10:00 UTC: the rollouts' start. */
const START_MS = Date.UTC(2025, 0, 6, 10, 0, 0);

function parseOptions(argv: readonly string[], fleetDefaultConcurrency: number): Options {
  const options: Options = { services: 1000, concurrency: fleetDefaultConcurrency, rounds: 10, history: 3, rps: 20, seed: 1, serial: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const name = (argv[i] ?? '').replace(/^--/, '') as keyof Options;
    const value = Number(argv[i + 1]);
    if (!(name in options) || !Number.isInteger(value) || value < 0) {
      throw new Error(`usage: --services N --concurrency N --rounds N --history MIN --rps N --seed N --serial 0|1 (bad ${argv[i]})`);
    }
    options[name] = value;
  }
  options.services = Math.max(1, options.services);
  options.concurrency = Math.max(1, options.concurrency);
  return options;
}

const ms = (x: number): string => `${Math.round(x).toLocaleString('en-US')} ms`;

interface Row {
  readonly store: string;
  readonly concurrency: number;
  readonly times: RoundTimes;
}

/** Prepares one store and times a loop per concurrency on it. */
async function measureStore(label: string, store: Store, fleet: Fleet, o: Options): Promise<Row[]> {
  const traffic = new FleetTraffic(fleet.names, o.rps, o.seed);
  const clock = new DrivenClock(START_MS);
  const started = performance.now();
  const prepared = { startMs: START_MS, historyMs: o.history * 60_000, writeConcurrency: 4 };
  const { weights, slices } = await prepareStore(store, fleet, traffic, clock, prepared);
  console.log(`${label}: wrote ${slices.toLocaleString('en-US')} windows (${fleet.names.length} services) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const rows: Row[] = [];
  for (const concurrency of o.serial === 1 && o.concurrency !== 1 ? [o.concurrency, 1] : [o.concurrency]) {
    const times = await timeRounds(store, fleet, traffic, clock, weights, { concurrency, rounds: o.rounds });
    console.log(`${label}, concurrency ${concurrency}: first round ${ms(times.firstMs)}, steady rounds ${times.steadyMs.map(ms).join(', ')}`);
    rows.push({ store: label, concurrency, times });
  }
  return rows;
}

async function measureRedis(fleet: Fleet, o: Options): Promise<Row[]> {
  const binary = redisServerBinary();
  if (binary === null) {
    console.log('redis: skipped, redis-server is not on PATH (install it: apt-get install redis-server)');
    return [];
  }
  const server = await startRedis(binary);
  const store = createRedisStore({ url: server.url, keyPrefix: 'bench' }, silentLogger);
  try {
    return await measureStore('redis', store, fleet, o);
  } finally {
    await store.close();
    await server.stop();
  }
}

/** "yes (0.16×)" or "NO (5.3×)": a time against the interval it must fit in. */
function fits(x: number, intervalMs: number): string {
  return `${x <= intervalMs ? 'yes' : 'NO'} (${(x / intervalMs).toFixed(2)}×)`;
}

function cells(r: Row, intervalMs: number): string[] {
  const t = r.times;
  const max = Math.max(...t.steadyMs);
  const verdicts = [...t.verdicts].sort().map(([result, n]) => `${result} ${n}`).join(', ');
  return [
    r.store,
    String(t.services),
    String(r.concurrency),
    ms(t.firstMs),
    ms(median(t.steadyMs)),
    ms(max),
    `first ${fits(t.firstMs, intervalMs)}; steady ${fits(max, intervalMs)}`,
    `${verdicts}; ${t.moves} moves, ${t.failed} not judged`,
  ];
}

async function main(): Promise<void> {
  stopOwnedOnExit();
  const probe = buildFleet(1);
  const o = parseOptions(process.argv.slice(2), probe.config.analysis.concurrency);
  const fleet = buildFleet(o.services);
  const a = fleet.config.analysis;
  const started = performance.now();
  console.log(`$ node dist/bench/analysis-round.js --services ${o.services} --concurrency ${o.concurrency} --rounds ${o.rounds} --history ${o.history} --rps ${o.rps} --seed ${o.seed} --serial ${o.serial}`);
  console.log(`fleet: ${o.services} services, each a canary on its 5 % step, ${o.rps} rps of seeded traffic (1 % errors with sticky retries, log-normal latency, median 100 ms)`);
  console.log(`windows: ${a.bucket / 1000}-s buckets of both versions with latency histograms; ${a.baseline / 60_000} min of baseline (stable alone) and ${o.history} min of rollout before the first round`);
  console.log(`loop: the gateway's defaults (interval ${a.interval / 1000} s, settle ${a.settle / 1000} s, maxInconclusive ${a.maxInconclusive}); first round of a new lease holder, then ${o.rounds} rounds after ${a.interval / 1000} s of new windows each`);
  console.log(`machine: ${availableParallelism()} CPUs, node ${process.version}\n`);
  const rows = [...(await measureStore('memory', new MemoryStore(), fleet, o)), ...(await measureRedis(fleet, o))];
  const head = ['store', 'services', 'concurrency', 'first round', 'steady median', 'steady max', `within the ${a.interval / 1000} s interval`, 'verdicts over all rounds'];
  const body = rows.map((r) => cells(r, a.interval));
  console.log(`\n${renderTable(head, body)}\n\n${renderMarkdownTable(head, body)}\n`);
  console.log(`wall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
