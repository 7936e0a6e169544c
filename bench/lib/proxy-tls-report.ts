import type { CpuShare } from './cpu-account.js';
import { fmtInt, fmtMs, fmtRatio, median, renderTable } from './table.js';
import type { PortCounts, TlsBackendCounts } from './tls-backend.js';
import type { ListenerCounts } from './tls-listener-counts.js';
import type { LoadResult } from './wrk.js';

/** The figures and the summary of bench/proxy-tls. */

/** Where TLS is: nowhere (the baseline), to the target, on the listener, or both. */
export type Kind = 'plain' | 'target' | 'listener' | 'both';
export const KINDS: readonly Kind[] = ['plain', 'target', 'listener', 'both'];

export const tlsToTarget = (kind: Kind): boolean => kind === 'target' || kind === 'both';
export const tlsOnListener = (kind: Kind): boolean => kind === 'listener' || kind === 'both';

const KIND_LABEL: Readonly<Record<Kind, string>> = {
  plain: 'HTTP → HTTP target (baseline)',
  target: 'HTTP → HTTPS target',
  listener: 'TLS listener → HTTP target',
  both: 'TLS listener → HTTPS target',
};

export function label(variant: string): string {
  const [kind, w] = variant.split('@');
  return `${KIND_LABEL[kind as Kind] ?? kind}, ${w} worker${w === '1' ? '' : 's'}`;
}

export const kindOf = (variant: string): Kind => variant.split('@')[0] as Kind;
const baselineOf = (variant: string): string => `plain@${variant.split('@')[1]}`;

/** The counters at one moment: the backend's (both ports) and the gateway listener's. */
export interface Snapshot {
  readonly backend: TlsBackendCounts;
  /** null when the listener is plain HTTP. */
  readonly listener: ListenerCounts | null;
}

/** What happened between two snapshots, on the connections that matter for a variant. */
export interface Counts {
  /** Requests the backend answered on the variant's target port. */
  readonly requests: number;
  /** TCP connections the backend accepted on that port (from the gateway's pools). */
  readonly upstreamConnections: number;
  /** HTTPS targets: handshakes the backend accepted, resumed ones, failed ones; null for plain targets. */
  readonly upstreamHandshakes: number | null;
  readonly upstreamResumed: number | null;
  readonly upstreamFailed: number | null;
  /** TLS listener: handshakes the gateway accepted (wrk's, and the bench's priming), resumed, failed; null when plain. */
  readonly listenerHandshakes: number | null;
  readonly listenerResumed: number | null;
  readonly listenerFailed: number | null;
  /** Failed handshakes by reason, both sides. */
  readonly upstreamFailedBy: Readonly<Record<string, number>>;
  readonly listenerFailedBy: Readonly<Record<string, number>>;
}

function byReasonBetween(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [why, n] of Object.entries(b)) if (n - (a[why] ?? 0) > 0) out[why] = n - (a[why] ?? 0);
  return out;
}

export function countsBetween(kind: Kind, from: Snapshot, to: Snapshot): Counts {
  const port = (s: Snapshot): PortCounts => (tlsToTarget(kind) ? s.backend.tls : s.backend.plain);
  const [a, b] = [port(from), port(to)];
  const upstream = tlsToTarget(kind);
  const listener = from.listener !== null && to.listener !== null && tlsOnListener(kind) ? { a: from.listener, b: to.listener } : null;
  return {
    requests: b.requests - a.requests,
    upstreamConnections: b.connections - a.connections,
    upstreamHandshakes: upstream ? b.handshakes - a.handshakes : null,
    upstreamResumed: upstream ? b.resumed - a.resumed : null,
    upstreamFailed: upstream ? b.failed - a.failed : null,
    listenerHandshakes: listener === null ? null : listener.b.handshakes - listener.a.handshakes,
    listenerResumed: listener === null ? null : listener.b.resumed - listener.a.resumed,
    listenerFailed: listener === null ? null : listener.b.failed - listener.a.failed,
    upstreamFailedBy: upstream ? byReasonBetween(a.failedBy, b.failedBy) : {},
    listenerFailedBy: listener === null ? {} : byReasonBetween(listener.a.failedBy, listener.b.failedBy),
  };
}

export interface TlsRun {
  readonly rep: number;
  readonly variant: string;
  readonly load: LoadResult;
  /** CPU of Switchyard's whole process tree during the measured run. */
  readonly proxyCpuMs: number;
  readonly cpu: CpuShare | null;
  readonly probeMs: number;
  readonly canaryRestored: string | null;
  /** From the start of the warm-up to the start of the measured run (warm-up, then priming the pools). */
  readonly fill: Counts;
  /** From the start of the measured run to `midS`, and to its end. */
  readonly mid: Counts;
  readonly end: Counts;
  readonly midS: number;
  /** The first handshakes' parameters, e.g. `TLSv1.3 TLS_AES_256_GCM_SHA384`. */
  readonly upstreamNegotiated: string;
  readonly listenerNegotiated: string;
}

export const cpuPerRequestUs = (r: TlsRun): number => (r.load.requests === 0 ? NaN : (r.proxyCpuMs * 1000) / r.load.requests);

/** New handshakes (or connections) after the first third of a run that still count as flat. */
export const flatAllowance = (connections: number): number => Math.max(1, Math.floor(connections / 10));

/**
 * What the new handshakes (or connections) after the first third of a run say, with the
 * run's total. wrk opens one connection per client connection; a pool that reuses its
 * connections needs at most one per concurrent request (it grows when answers slow down,
 * and one idle for `upstreamIdle` is closed and later made again). A run's total above
 * `connections` that is still growing means connections are not reused.
 */
export function growthVerdict(later: number, total: number, connections: number): string {
  if (!Number.isFinite(later) || !Number.isFinite(total)) return 'no data';
  if (later <= flatAllowance(connections)) return `+${later} (flat)`;
  if (total <= connections) return `+${later} (≤ 1 per conn)`;
  return `+${later} GROWS`;
}

export function progressLine(run: TlsRun): string {
  const l = run.load;
  const failed = (mid: number | null, end: number | null) => (end === null || end === 0 ? '' : `, ${end} failed (${mid} by ${run.midS.toFixed(0)} s)`);
  const up =
    run.end.upstreamHandshakes === null
      ? `upstream conns ${run.end.upstreamConnections}`
      : `upstream handshakes ${run.end.upstreamHandshakes} (${run.end.upstreamResumed} resumed${failed(run.mid.upstreamFailed, run.end.upstreamFailed)})`;
  const lis = run.end.listenerHandshakes === null ? '' : `, listener handshakes ${run.end.listenerHandshakes}${failed(run.mid.listenerFailed, run.end.listenerFailed)}`;
  return (
    `  rep ${run.rep + 1} ${label(run.variant).padEnd(42)} ${fmtInt(l.rps).padStart(6)} req/s  p50 ${fmtMs(l.p50Us)} p99 ${fmtMs(l.p99Us)}  errors ${l.errors}` +
    ` | ${cpuPerRequestUs(run).toFixed(0)} µs CPU/req | in run: ${up}${lis}; before it: ${fillText(run.fill)}` +
    `${run.cpu === null ? '' : ` | other procs ${((run.cpu.foreign ?? 0) * 100).toFixed(0)}%`} probe ${run.probeMs.toFixed(0)} ms` +
    (run.canaryRestored === null ? '' : `\n    NOTE: the canary had left 10 % by the end of this run (${run.canaryRestored}); put back`)
  );
}

function fillText(c: Counts): string {
  const parts = [c.upstreamHandshakes === null ? `${c.upstreamConnections} upstream conns` : `${c.upstreamHandshakes} upstream handshakes`];
  if (c.listenerHandshakes !== null) parts.push(`${c.listenerHandshakes} listener`);
  return parts.join(', ');
}

/** One kind of connection counted for a variant: upstream TLS handshakes, upstream TCP connections, listener TLS handshakes. */
interface Side {
  readonly name: string;
  readonly tls: boolean;
  readonly count: (c: Counts) => number | null;
  readonly resumed: (c: Counts) => number | null;
  readonly failed: (c: Counts) => number | null;
}

const spread = (xs: readonly number[], fmt: (x: number) => string): string => (xs.length < 2 ? '' : ` (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`);
const fmtUs = (us: number): string => (Number.isFinite(us) ? `${us.toFixed(0)} µs` : '—');

export interface ReportOptions {
  readonly reps: number;
  readonly seconds: number;
  readonly connections: number;
}

/** The runs of each variant. */
type ByVariant = (variant: string) => readonly TlsRun[];

export function printSummary(opts: ReportOptions, variants: readonly string[], runs: readonly TlsRun[], failed: ReadonlyMap<string, string>, disturbed: number): void {
  const pick: ByVariant = (v) => runs.filter((r) => r.variant === v);
  const measured = variants.filter((v) => pick(v).length > 0);
  printPerformance(opts, measured, pick);
  const growing = printHandshakes(opts, measured, pick);
  printFailedHandshakes(measured, pick);
  const upstream = runs.find((r) => r.upstreamNegotiated !== '')?.upstreamNegotiated;
  const listener = runs.find((r) => r.listenerNegotiated !== '')?.listenerNegotiated;
  if (upstream !== undefined || listener !== undefined) console.log(`Negotiated: upstream ${upstream ?? '—'}; listener ${listener ?? '—'}.`);

  for (const [v, why] of failed) console.log(`\nNOT MEASURED: ${label(v)}: ${why}`);
  const listenerBlind = runs.filter((r) => tlsOnListener(kindOf(r.variant)) && r.load.requests > 0 && (r.end.listenerHandshakes ?? 0) === 0);
  if (listenerBlind.length > 0) console.log(`\nNOTE: the listener counter saw no handshake in ${listenerBlind.length} TLS-listener run(s): the listener does not go through tls.Server, so its handshakes are unknown (not zero).`);
  if (growing.length > 0) console.log(`\nWARNING: handshakes or connections kept growing with requests in: ${growing.join('; ')}. Keep-alive is not holding there.`);
  const errors = runs.filter((r) => r.load.errors > 0);
  if (errors.length > 0) console.log(`\nWARNING: ${errors.length} run(s) had socket errors or non-2xx answers; their figures are suspect.`);
  const restored = runs.filter((r) => r.canaryRestored !== null);
  if (restored.length > 0) console.log(`NOTE: the canary had left 10 % after ${restored.length} run(s) (the analysis judged it) and was put back.`);
  const busy = runs.filter((r) => (r.cpu?.foreign ?? 0) > disturbed);
  if (busy.length > 0) console.log(`WARNING: other processes used > ${(disturbed * 100).toFixed(0)} % of the CPUs during ${busy.length} of ${runs.length} runs; compare within a repetition.`);
}

function printPerformance(opts: ReportOptions, measured: readonly string[], pick: ByVariant): void {
  const med = (v: string, f: (r: TlsRun) => number) => median(pick(v).map(f));
  const rps = (r: TlsRun) => r.load.rps;
  const p50 = (r: TlsRun) => r.load.p50Us;
  const p99 = (r: TlsRun) => r.load.p99Us;
  console.log(`Medians of ${opts.reps} interleaved repetition(s), min–max in brackets; ×base = this variant / the baseline with the same workers.`);
  console.log('CPU/req is of Switchyard\'s whole process tree (primary + workers) over the measured run, divided by the requests wrk completed.');
  const head = ['variant', 'req/s (min–max)', '×base', 'p50', '×base', 'p99', '×base', 'CPU/req (min–max)', '×base', 'errors'];
  const rows = measured.map((v) => {
    const base = baselineOf(v);
    const ratio = (f: (r: TlsRun) => number) => fmtRatio(med(v, f) / med(base, f));
    return [
      label(v),
      fmtInt(med(v, rps)) + spread(pick(v).map(rps), fmtInt),
      ratio(rps),
      fmtMs(med(v, p50)),
      ratio(p50),
      fmtMs(med(v, p99)),
      ratio(p99),
      fmtUs(med(v, cpuPerRequestUs)) + spread(pick(v).map(cpuPerRequestUs), (x) => x.toFixed(0)),
      ratio(cpuPerRequestUs),
      String(pick(v).reduce((n, r) => n + r.load.errors, 0)),
    ];
  });
  console.log(renderTable(head, rows));
}

/** The kinds of connection counted for a variant: upstream TLS handshakes, upstream TCP connections, listener TLS handshakes. */
function sidesOf(variant: string): Side[] {
  const sides: Side[] = [];
  if (tlsToTarget(kindOf(variant))) sides.push({ name: 'Switchyard → backend, TLS handshakes', tls: true, count: (c) => c.upstreamHandshakes, resumed: (c) => c.upstreamResumed, failed: (c) => c.upstreamFailed });
  sides.push({ name: 'Switchyard → backend, TCP connections', tls: false, count: (c) => c.upstreamConnections, resumed: () => null, failed: () => null });
  if (tlsOnListener(kindOf(variant))) sides.push({ name: 'wrk → Switchyard, TLS handshakes', tls: true, count: (c) => c.listenerHandshakes, resumed: (c) => c.listenerResumed, failed: (c) => c.listenerFailed });
  return sides;
}

/** Prints the handshake table; returns the connections that kept growing with requests. */
function printHandshakes(opts: ReportOptions, measured: readonly string[], pick: ByVariant): string[] {
  const midS = pick(measured[0] ?? '')[0]?.midS ?? opts.seconds / 3;
  const at = (s: number) => `${s.toFixed(0)} s`;
  console.log(
    `\nConnections and TLS handshakes (medians over repetitions). "before" = during the warm-up and the priming of the pools; the measured run is counted from its start,` +
      ` at ${at(midS)} and at ${at(opts.seconds)}, beside the requests the backend answered. With keep-alive working the counts stay flat while the requests` +
      ` grow ${(opts.seconds / midS).toFixed(0)}×. "after ${at(midS)}" (the most over repetitions): flat at ≤ ${flatAllowance(opts.connections)} new,` +
      ` "≤ 1 per conn" while the run's total stays within the ${opts.connections} client connections (wrk's own, a pool growing as answers slow), GROWS beyond (connections not reused).`,
  );
  const head = ['variant', 'connection', 'before', `req @${at(midS)}`, `new @${at(midS)}`, `req @${at(opts.seconds)}`, `new @${at(opts.seconds)}`, 'resumed', 'failed', 'per 1,000 req', `after ${at(midS)}`];
  const rows: string[][] = [];
  const growing: string[] = [];
  for (const v of measured) {
    for (const side of sidesOf(v)) {
      const m = (f: (r: TlsRun) => number | null) => median(pick(v).map((r) => f(r) ?? NaN));
      const worst = pick(v).reduce<TlsRun | null>((w, r) => (w === null || later(r, side) > later(w, side) ? r : w), null);
      const perThousand = m((r) => {
        const n = side.count(r.end);
        return n === null || r.end.requests === 0 ? null : (1000 * n) / r.end.requests;
      });
      const verdict = worst === null ? 'no data' : growthVerdict(later(worst, side), side.count(worst.end) ?? NaN, opts.connections);
      if (verdict.includes('GROWS')) growing.push(`${label(v)}: ${side.name}`);
      rows.push([
        label(v),
        side.name,
        fmtInt(m((r) => side.count(r.fill))),
        fmtInt(m((r) => r.mid.requests)),
        fmtInt(m((r) => side.count(r.mid))),
        fmtInt(m((r) => r.end.requests)),
        fmtInt(m((r) => side.count(r.end))),
        side.tls ? `${fmtInt(m((r) => sum(side.resumed(r.fill), side.resumed(r.end))))} of ${fmtInt(m((r) => sum(side.count(r.fill), side.count(r.end))))}` : '—',
        side.tls ? fmtInt(m((r) => sum(side.failed(r.fill), side.failed(r.end)))) : '—',
        Number.isFinite(perThousand) ? perThousand.toFixed(2) : '—',
        verdict,
      ]);
    }
  }
  console.log(renderTable(head, rows));
  console.log(
    '"resumed" and "failed" cover the warm-up, the priming and the measured run together. A failed handshake is a connection closed before its handshake finished;' +
      ' wrk makes one per run on a TLS listener (it connects once and closes to check the address before it starts).',
  );
  return growing;
}

function printFailedHandshakes(measured: readonly string[], pick: ByVariant): void {
  for (const v of measured) {
    const reasons = (f: (c: Counts) => Readonly<Record<string, number>>) => {
      const total: Record<string, number> = {};
      for (const r of pick(v)) for (const c of [r.fill, r.end]) for (const [why, n] of Object.entries(f(c))) total[why] = (total[why] ?? 0) + n;
      return Object.entries(total).map(([why, n]) => `${why} ×${n}`).join(', ');
    };
    const [up, lis] = [reasons((c) => c.upstreamFailedBy), reasons((c) => c.listenerFailedBy)];
    if (up !== '' || lis !== '') console.log(`Failed handshakes, ${label(v)}, all repetitions: ${[up === '' ? '' : `upstream ${up}`, lis === '' ? '' : `listener ${lis}`].filter(Boolean).join('; ')}.`);
  }
}

const later = (r: TlsRun, side: Side): number => (side.count(r.end) ?? NaN) - (side.count(r.mid) ?? NaN);

function sum(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : a + b;
}
