import { parseConfig } from '../../src/config/load.js';
import { DEFAULT_RESYNC_MS } from '../../src/gateway/gateway.js';
import { censoredQuantile } from '../detector-lib/stats.js';
import { fmtInt, renderTable } from '../lib/table.js';
import type { KillTrial } from './lease-kill.js';
import type { PropagationResult } from './propagation.js';
import { pct, type Cell } from './redis-load.js';
import type { RedisDelta } from './redis-stats.js';
import type { RollingResult } from './rolling.js';

/** Goals of the issue. */
const GOAL_P99_MS = 50;
const GOAL_INTERVALS = 3;

const ms = (x: number | null): string => (x === null ? 'never' : `${x.toFixed(1)} ms`);
const seconds = (x: number | null): string => (x === null ? 'never' : `${(x / 1000).toFixed(2)} s`);
const met = (ok: boolean): string => (ok ? 'met' : 'MISSED');

/** p50, p99 and max, where a miss (null) counts as longer than anything. */
function spread(xs: readonly (number | null)[]): { p50: number | null; p99: number | null; max: number | null } {
  return { p50: censoredQuantile(xs, 0.5), p99: censoredQuantile(xs, 0.99), max: censoredQuantile(xs, 1) };
}

export function propagationLines(r: PropagationResult, replicas: number): string[] {
  const all = spread(r.allMs);
  const missed = r.allMs.filter((t) => t === null).length;
  const row = (label: string, xs: readonly (number | null)[]) => {
    const s = spread(xs.map((x) => (x === null || Number.isNaN(x) ? null : x)));
    return [label, ms(s.p50), ms(s.p99), ms(s.max)];
  };
  return [
    renderTable(
      [`weight change, over ${r.writes} writes`, 'p50', 'p99', 'max'],
      [
        row(`all ${replicas} proxies route on it`, r.allMs),
        row('Redis published it (heard by the bench)', r.publishedMs),
        row('all proxies, counted from that publish', r.allMs.map((t, i) => (t === null ? null : t - (r.publishedMs[i] ?? NaN)))),
        row('the admin command answered', r.commandMs),
      ],
    ),
    `p99 until all ${replicas} proxies route on a write: ${ms(all.p99)}; goal ≤ ${GOAL_P99_MS} ms on loopback: ${met(all.p99 !== null && all.p99 <= GOAL_P99_MS)}` +
      (missed > 0 ? ` (${missed} write(s) not seen everywhere within 10 s)` : ''),
  ];
}

export function leaseLines(trials: readonly KillTrial[], intervalMs: number): string[] {
  const inIntervals = (x: number | null) => (x === null ? 'never' : `${(x / intervalMs).toFixed(1)}`);
  const rows = trials.map((t, i) => [
    `${i + 1}: killed ${t.killed}`,
    t.newHolder ?? '—',
    `${seconds(t.takeoverMs)} (${inIntervals(t.takeoverMs)})`,
    `${seconds(t.verdictMs)} (${inIntervals(t.verdictMs)})`,
    `${seconds(t.rollbackMs)} (${inIntervals(t.rollbackMs)})`,
    `${t.rollbacks.length} (${t.rollbacks.map((e) => e.actor).join(', ') || '—'})`,
  ]);
  const judged = trials.map((t) => t.verdictMs);
  const worst = censoredQuantile(judged, 1);
  const once = trials.every((t) => t.rollbacks.length === 1);
  return [
    renderTable(['trial', 'new holder', 'lease taken (intervals)', 'first verdict after', 'rollback applied', 'rollbacks in audit (actor)'], rows),
    `Another replica judged within ${worst === null ? 'never' : inIntervals(worst)} intervals at worst over ${trials.length} kill(s); goal ≤ ${GOAL_INTERVALS}: ${met(worst !== null && worst <= GOAL_INTERVALS * intervalMs)}. ` +
      `Exactly one rollback per regressed rollout: ${met(once)}.`,
  ];
}

export function rollingLines(r: RollingResult): string[] {
  const reasons = [...r.tally.reasons].map(([why, n]) => `${why} ×${n}`).join(', ');
  const front = [...r.frontFailures].map(([why, n]) => `${why} ×${n}`).join(', ');
  const drains = r.restarts.map((x) => x.drainMs);
  const starts = r.restarts.map((x) => x.startMs);
  return [
    `${r.restarts.length} replicas restarted one by one in ${r.seconds.toFixed(1)} s under ${fmtInt(r.tally.sent / r.seconds)} req/s: ` +
      `${fmtInt(r.tally.sent)} requests, ${fmtInt(r.tally.ok)} answered 2xx, ${r.tally.failed} failed${reasons === '' ? '' : ` (${reasons})`}; goal 0 failed: ${met(r.tally.failed === 0)}.` +
      (r.tally.skipped === 0 ? '' : ` WARNING: ${r.tally.skipped} requests not sent (too many waiting): the machine could not keep the pace, so the load was not steady.`),
    `  SIGTERM to exit ${Math.min(...drains).toFixed(0)}–${Math.max(...drains).toFixed(0)} ms; replacement spawn to ready ${Math.min(...starts).toFixed(0)}–${Math.max(...starts).toFixed(0)} ms` +
      (front === '' ? '' : `; the front saw: ${front}`),
  ];
}

/** Least squares y ≈ a + b·x. */
function linearFit(points: ReadonlyArray<readonly [number, number]>): { a: number; b: number } {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const b = sxx === 0 ? NaN : sxy / sxx;
  return { a: my - b * mx, b };
}

/** Least squares y ≈ b·x, through the origin. */
function slope(points: ReadonlyArray<readonly [number, number]>): number {
  return points.reduce((s, [x, y]) => s + x * y, 0) / points.reduce((s, [x]) => s + x * x, 0);
}

/** The gateway's default timings, as its own config parser fills them in. */
function defaultTimings(): { flushS: number; resyncS: number } {
  const minimal = { services: { m: { match: { pathPrefix: '/' }, versions: { v1: { targets: ['http://127.0.0.1:1'] } }, rollout: { stable: 'v1' } } } };
  const { analysis } = parseConfig(JSON.stringify(minimal), {}, 'bench fleet defaults');
  return { flushS: analysis.flush / 1000, resyncS: DEFAULT_RESYNC_MS / 1000 };
}

interface Flushed {
  readonly cell: Cell;
  readonly rate: number;
  readonly redis: RedisDelta;
  /** (replica, service) pairs written per second by the flushes: one MULTI each (the store writes a service's windows in one transaction). */
  readonly flushedPerS: number;
  /** Commands of the flushes, per pair written. */
  readonly perFlushed: number;
}

function flushedOf(cells: readonly Cell[]): Flushed[] {
  const multi = (d: RedisDelta) => d.perS.get('multi') ?? 0;
  return cells.flatMap((cell) =>
    cell.busy.map((b) => {
      const flushedPerS = multi(b.redis) - multi(cell.idle);
      return { cell, rate: b.rate, redis: b.redis, flushedPerS, perFlushed: (b.redis.totalPerS - cell.idle.totalPerS) / flushedPerS };
    }),
  );
}

export function gridLines(cells: readonly Cell[], stress: RedisDelta): string[] {
  const { flushS } = defaultTimings();
  const flushed = flushedOf(cells);
  const rows = cells.flatMap((c) => {
    const pairs = c.replicas * c.services;
    const label = `${c.replicas} × ${c.services}`;
    const idle = [label, 'idle', fmtInt(c.idle.totalPerS), (c.idle.totalPerS / pairs).toFixed(2), '—', '—', pct(c.idle.mainCpu), `${c.replicaIdleCpuMsPerS.toFixed(1)} ms/s`];
    const busy = flushed
      .filter((f) => f.cell === c)
      .map((f) => [
        label,
        `${f.rate} req/s/pair`,
        fmtInt(f.redis.totalPerS),
        (f.redis.totalPerS / pairs).toFixed(2),
        `${((f.flushedPerS * flushS * 100) / pairs).toFixed(0)} %`,
        f.perFlushed.toFixed(2),
        pct(f.redis.mainCpu),
        '',
      ]);
    return [idle, ...busy];
  });
  const table = renderTable(
    ['replicas × services', 'traffic', 'Redis commands/s', 'per pair', 'pairs in a flush', 'per pair flushed', 'Redis main thread', 'replica CPU (idle)'],
    rows,
  );
  const largest = cells.reduce((a, b) => (a.replicas * a.services >= b.replicas * b.services ? a : b));
  const names = [...new Set([...largest.idle.perS.keys(), ...largest.busy.flatMap((b) => [...b.redis.perS.keys()])])].sort();
  const byCommand = renderTable(
    ['command', 'idle', ...largest.busy.map((b) => `${b.rate} req/s/pair`)],
    names.map((name) => [name, fmtInt(largest.idle.perS.get(name) ?? 0), ...largest.busy.map((b) => fmtInt(b.redis.perS.get(name) ?? 0))]),
  );
  return [
    table,
    '',
    `By command, calls/s at ${largest.replicas} replicas × ${largest.services} services (commands that scripts run are counted too):`,
    byCommand,
    '',
    `Redis alone under flush writes as fast as the bench sends them: ${fmtInt(stress.totalPerS)} commands/s, main thread ${pct(stress.mainCpu)} ` +
      `(${((stress.mainCpu / stress.totalPerS) * 1e6).toFixed(2)} µs of CPU per command).`,
    ...formulaLines(cells, flushed, stress),
  ];
}

/** The fitted formula, and where Redis' one thread runs out. */
function formulaLines(cells: readonly Cell[], flushed: readonly Flushed[], stress: RedisDelta): string[] {
  const { flushS, resyncS } = defaultTimings();
  const idlePerPair = slope(cells.map((c) => [c.replicas * c.services, c.idle.totalPerS]));
  const rates = [...new Set(flushed.map((f) => f.rate))].sort((a, b) => a - b);
  const perFlushed = rates.map((rate) => {
    const at = flushed.filter((f) => f.rate === rate);
    return { rate, k: slope(at.map((f) => [f.flushedPerS, f.redis.totalPerS - f.cell.idle.totalPerS])), fleets: at.length };
  });
  // The fit's own a: the share of pairs the traffic's rate puts in a flush, not the share this window happened to measure.
  const predicted = (f: Flushed) => {
    const pairs = f.cell.replicas * f.cell.services;
    return pairs * idlePerPair + ((pairs * Math.min(1, f.rate * flushS)) / flushS) * (perFlushed.find((p) => p.rate === f.rate)?.k ?? NaN);
  };
  const worst = Math.max(0, ...flushed.map((f) => Math.abs(f.redis.totalPerS - predicted(f)) / f.redis.totalPerS));
  const windows = [...cells.map((c) => c.idle), ...flushed.map((f) => f.redis), stress];
  const cpu = linearFit(windows.map((w) => [w.totalPerS, w.mainCpu]));
  const busiest = perFlushed.at(-1);
  const lines = [
    `Resyncs (each replica re-reads each service every ${resyncS} s) and the lease holder: ${idlePerPair.toFixed(2)} commands/s per (replica, service) pair.`,
    `Flushes: ${perFlushed.map((p) => `${p.k.toFixed(1)} commands per pair flushed at ${p.rate} req/s per pair (${p.fleets} fleets)`).join('; ')}.`,
    `Redis commands/s ≈ R × S × (${idlePerPair.toFixed(2)} + a × k / ${flushS} s), a = share of pairs in a flush (those with traffic since the last one: about min(1, rate × ${flushS} s)), ` +
      `k = commands per pair flushed (more distinct latencies per flush, more fields); largest miss of that fit ${(worst * 100).toFixed(0)} %.`,
    `Redis main thread ≈ ${(cpu.a * 100).toFixed(2)} % + ${(cpu.b * 1e6).toFixed(2)} µs of CPU per command (fit over the ${windows.length - 1} fleet windows and the flush-only one).`,
  ];
  if (busiest === undefined || !(cpu.b > 0)) return [...lines, 'Too few windows to say where Redis saturates.'];
  const commandsMax = (1 - cpu.a) / cpu.b;
  const pairsMax = commandsMax / (idlePerPair + busiest.k / flushS);
  return [
    ...lines,
    `One Redis thread saturates at ≈ ${fmtInt(commandsMax)} commands/s (extrapolated); with every pair flushed every second at ${busiest.k.toFixed(1)} commands that is ≈ ${fmtInt(pairsMax)} pairs: ` +
      `10 replicas × ${fmtInt(pairsMax / 10)} services, or 50 replicas × ${fmtInt(pairsMax / 50)}.`,
  ];
}
