import type { CpuShare } from './cpu-account.js';
import type { GrpcLoadResult } from './grpc-load.js';
import { pct } from './quiet-run.js';
import { fmtInt, fmtMs, fmtRatio, renderTable } from './table.js';

/** The lines and tables of bench/grpc: one row per leg, then the ratios between legs. */

export type Leg = 'direct' | 'switchyard' | 'nginx';

export interface GrpcRun {
  readonly leg: Leg;
  readonly load: GrpcLoadResult;
  /** CPU of the proxy (Switchyard's process tree, nginx's workers) during the run; null direct. */
  readonly proxyCpuMs: number | null;
  /** ModelInfer calls each backend served during the run, as the backends count them. */
  readonly served: { readonly stable: number; readonly candidate: number };
  /** CPU of both backends during the run: with the load generator's, it shows what saturated first. */
  readonly backendCpuMs: number;
  /** CPU used by processes other than the bench's during the run (Linux), null elsewhere. */
  readonly cpu: CpuShare | null;
  readonly probeMs: number;
  /** Switchyard: what was found when the canary had left its weight by the end of the run, else null. */
  readonly canaryRestored: string | null;
}

export function legLabel(leg: Leg): string {
  if (leg === 'direct') return 'direct to the models';
  return leg === 'switchyard' ? 'Switchyard, 1 worker' : 'nginx grpc_pass, 1 worker';
}

/** The candidate's share of the calls the backends served. */
const candidateShare = (run: GrpcRun): number => run.served.candidate / (run.served.stable + run.served.candidate);

/** Proxy CPU per call, ms. */
const cpuPerCall = (run: GrpcRun | undefined): number => (run?.proxyCpuMs == null || run.load.calls === 0 ? NaN : run.proxyCpuMs / run.load.calls);

const fmtCpu = (ms: number): string => (Number.isFinite(ms) ? `${ms.toFixed(3)} ms` : '—');

export function progressLine(run: GrpcRun): string {
  const l = run.load;
  const busy = (ms: number) => `${((100 * ms) / l.durationMs).toFixed(0)}%`;
  const proxy = run.proxyCpuMs === null ? '' : ` | proxy CPU ${busy(run.proxyCpuMs)} = ${fmtCpu(cpuPerCall(run))}/call`;
  const others = ` | load generator ${busy(l.cpuMs)}, backends ${busy(run.backendCpuMs)} of a core`;
  const restored = run.canaryRestored === null ? '' : `\n    NOTE: the canary had left its weight by the end of this run (${run.canaryRestored}); put back`;
  const error = l.firstError === null ? '' : ` (first: ${l.firstError})`;
  return (
    `  ${legLabel(run.leg).padEnd(27)} ${fmtInt(l.callsPerS).padStart(6)} calls/s  p50 ${fmtMs(l.p50Us)} p99 ${fmtMs(l.p99Us)} max ${fmtMs(l.maxUs)}` +
    `  failed ${l.failed}${error}  v2 ${pct(candidateShare(run))}${proxy}${others} | other procs ${pct(run.cpu?.foreign)} probe ${run.probeMs.toFixed(0)} ms${restored}`
  );
}

export function printGrpcSummary(runs: readonly GrpcRun[], skipped: ReadonlyMap<Leg, string>, disturbed: number): void {
  const of = (leg: Leg) => runs.find((r) => r.leg === leg);
  const direct = of('direct');
  const head = ['leg', 'calls/s', '×direct', 'p50', 'p99', 'proxy CPU/call', 'v2 share', 'failed calls'];
  const rows = runs.map((r) => [
    legLabel(r.leg),
    fmtInt(r.load.callsPerS),
    direct === undefined ? '—' : fmtRatio(r.load.callsPerS / direct.load.callsPerS),
    fmtMs(r.load.p50Us),
    fmtMs(r.load.p99Us),
    fmtCpu(cpuPerCall(r)),
    pct(candidateShare(r)),
    String(r.load.failed),
  ]);
  console.log(renderTable(head, rows));

  const pairs: [Leg, Leg][] = [
    ['switchyard', 'direct'],
    ['nginx', 'direct'],
    ['switchyard', 'nginx'],
  ];
  const ratioRows = pairs.flatMap(([a, b]) => {
    const x = of(a);
    const y = of(b);
    if (x === undefined || y === undefined) return [];
    const r = (key: 'callsPerS' | 'p50Us' | 'p99Us') => fmtRatio(x.load[key] / y.load[key]);
    return [[`${legLabel(a)} / ${b === 'direct' ? 'direct' : legLabel(b)}`, r('callsPerS'), r('p50Us'), r('p99Us'), b === 'direct' ? '—' : fmtRatio(cpuPerCall(x) / cpuPerCall(y))]];
  });
  if (ratioRows.length > 0) {
    console.log('');
    console.log(renderTable(['ratio', 'calls/s', 'p50', 'p99', 'proxy CPU/call'], ratioRows));
  }

  for (const [leg, why] of skipped) console.log(`\n${legLabel(leg)}: skipped: ${why}`);
  const failed = runs.filter((r) => r.load.failed > 0);
  if (failed.length > 0) console.log(`\nWARNING: calls failed in ${failed.map((r) => legLabel(r.leg)).join(', ')}; their figures are suspect.`);
  const restored = runs.filter((r) => r.canaryRestored !== null);
  if (restored.length > 0) console.log('NOTE: the analysis had moved the canary during a run (see above); it was put back.');
  const busy = runs.filter((r) => (r.cpu?.foreign ?? 0) > disturbed);
  if (busy.length > 0) console.log(`WARNING: other processes used > ${(disturbed * 100).toFixed(0)} % of the CPUs during ${busy.length} of ${runs.length} runs.`);
}
