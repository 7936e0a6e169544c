import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { checkCounters, COUNTER_NAME, mergeSlices, type WindowSlice } from '../../core/analysis/window.js';
import type { ServiceKeys } from './keys.js';

/**
 * Analysis windows as Redis hashes: one hash per service and bucket, with fields
 * `<version>|<counter>`. Every counter is a plain HINCRBY / HINCRBYFLOAT, which
 * commute, so replicas' flushes add up whatever their order
 * (docs/analysis.md, The statistics).
 *
 *   <version>|req   requests            <version>|ls    Σ ln(latency ms)
 *   <version>|err   errors              <version>|lq    Σ ln(latency ms)²
 *   <version>|fk    failing sticky keys <version>|h<k>  requests in DDSketch key k
 *   <version>|c<name>  the named counter `name` (ArmWindow.counters), HINCRBYFLOAT
 *
 * The counter name never contains `|`, so the version is everything before the last one.
 */
const SEPARATOR = '|';
const LATENCY_PREFIX = 'h';
const COUNTER_PREFIX = 'c';
const INTEGER_KEY = /^-?\d+$/;

type Counted = 'requests' | 'errors' | 'failingKeys' | 'logSum' | 'logSqSum';
/** Field suffix -> arm property; the sums of logs are floats, the rest whole counts. */
const COUNTERS: ReadonlyArray<{ readonly counter: string; readonly prop: Counted; readonly float: boolean }> = [
  { counter: 'req', prop: 'requests', float: false },
  { counter: 'err', prop: 'errors', float: false },
  { counter: 'fk', prop: 'failingKeys', float: false },
  { counter: 'ls', prop: 'logSum', float: true },
  { counter: 'lq', prop: 'logSqSum', float: true },
];
const BY_COUNTER = new Map(COUNTERS.map((c) => [c.counter, c.prop]));

/**
 * The writes of one flush, one MULTI per service: a Cluster runs a transaction
 * only within one slot (a service's buckets share its hash tag), and the loop
 * never reads a flush half applied, e.g. its requests without their errors.
 */
export function windowWrites(
  client: Redis | Cluster,
  keysOf: (service: string) => ServiceKeys,
  slices: readonly WindowSlice[],
  ttlMs: number,
): ChainableCommander[] {
  slices.forEach(checkCounters);
  const byService = new Map<string, WindowSlice[]>();
  for (const slice of mergeSlices(slices)) {
    const group = byService.get(slice.service);
    if (group === undefined) byService.set(slice.service, [slice]);
    else group.push(slice);
  }
  return [...byService].map(([service, group]) => {
    const tx = client.multi();
    queueIncrements(tx, keysOf(service), group, ttlMs);
    return tx;
  });
}

/** One HGETALL per bucket of one service, in one pipeline (one slot). */
export function windowReads(client: Redis | Cluster, keys: ServiceKeys, starts: readonly number[]): ChainableCommander {
  const pipeline = client.pipeline();
  for (const bucketMs of starts) pipeline.hgetall(keys.window(bucketMs));
  return pipeline;
}

/** A pipeline's or transaction's replies; the first failed command fails the whole call. */
export async function execAll(batch: ChainableCommander): Promise<unknown[]> {
  const replies = await batch.exec();
  if (replies === null) throw new Error('transaction discarded');
  return replies.map(([err, reply]) => {
    if (err !== null) throw err;
    return reply;
  });
}

/** Queues the increments of one service's slices, then one PEXPIRE per bucket written. */
function queueIncrements(tx: ChainableCommander, keys: ServiceKeys, slices: readonly WindowSlice[], ttlMs: number): void {
  const touched = new Set<string>();
  for (const { version, bucketMs, arm } of slices) {
    const key = keys.window(bucketMs);
    touched.add(key);
    // Zero increments are skipped: they change nothing and only cost commands.
    for (const { counter, prop, float } of COUNTERS) {
      const value = arm[prop];
      if (value === 0) continue;
      if (float) tx.hincrbyfloat(key, `${version}${SEPARATOR}${counter}`, value);
      else tx.hincrby(key, `${version}${SEPARATOR}${counter}`, value);
    }
    for (const latencyKey in arm.latency) {
      const count = arm.latency[latencyKey] ?? 0;
      if (count !== 0) tx.hincrby(key, `${version}${SEPARATOR}${LATENCY_PREFIX}${latencyKey}`, count);
    }
    for (const name in arm.counters) {
      const value = arm.counters[name] ?? 0;
      if (value !== 0) tx.hincrbyfloat(key, `${version}${SEPARATOR}${COUNTER_PREFIX}${name}`, value);
    }
  }
  for (const key of touched) tx.pexpire(key, ttlMs);
}

type MutableArm = { -readonly [P in Counted]: number } & { latency: Record<string, number>; counters?: Record<string, number> };

/**
 * The slices of one bucket hash, one per version, sorted by version. Fields this
 * release does not know (a newer replica's) and values that are not numbers are
 * skipped rather than failing the whole read.
 */
export function decodeWindowHash(service: string, bucketMs: number, hash: Readonly<Record<string, string>>): WindowSlice[] {
  const arms = new Map<string, MutableArm>();
  for (const field in hash) {
    const at = field.lastIndexOf(SEPARATOR);
    const value = Number(hash[field]);
    if (at <= 0 || !Number.isFinite(value)) continue;
    const counter = field.slice(at + 1);
    const prop = BY_COUNTER.get(counter);
    const latencyKey = counter.startsWith(LATENCY_PREFIX) && INTEGER_KEY.test(counter.slice(1)) ? counter.slice(1) : null;
    const named = counter.startsWith(COUNTER_PREFIX) && COUNTER_NAME.test(counter.slice(1)) ? counter.slice(1) : null;
    if (prop === undefined && latencyKey === null && named === null) continue;
    const version = field.slice(0, at);
    let arm = arms.get(version);
    if (arm === undefined) {
      arm = { requests: 0, errors: 0, failingKeys: 0, logSum: 0, logSqSum: 0, latency: {} };
      arms.set(version, arm);
    }
    if (prop !== undefined) arm[prop] = value;
    else if (latencyKey !== null) arm.latency[latencyKey] = value;
    else if (named !== null) (arm.counters ??= {})[named] = value;
  }
  return [...arms]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([version, arm]) => ({ service, version, bucketMs, arm }));
}
