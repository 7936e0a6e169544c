import type { Json } from './api-client.js';

/** Human output: plain padded columns and short key/value blocks, no colours, no dependency. */

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function fields(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 1)}  ${v}`).join('\n');
}

const str = (v: unknown): string => (v === null || v === undefined ? '-' : String(v));
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const list = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const obj = (v: unknown): Json | null => (typeof v === 'object' && v !== null ? (v as Json) : null);

export function percent(v: unknown): string {
  return typeof v === 'number' ? `${v}%` : '-';
}

/** 90061000 -> "1d 1h", 150000 -> "2m 30s". */
export function duration(ms: unknown): string {
  if (typeof ms !== 'number') return '-';
  if (ms < 1000) return `${ms}ms`;
  const units: [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || parts.length > 0) parts.push(`${n}${unit}`);
  }
  return parts.filter((p) => !p.startsWith('0')).slice(0, 2).join(' ') || '0s';
}

/** "2/3" while a rollout runs: the step we are on out of the plan's steps. */
function stepOf(s: Json): string {
  const steps = list(s['steps']);
  if (s['candidate'] === null || s['candidate'] === undefined || steps.length === 0) return '-';
  return `${num(s['step']) + 1}/${steps.length}`;
}

/** "v2 on 10% of keys since 2025-01-06T10:00:00.000Z", or "-". */
function shadowLine(s: Json): string {
  const shadow = obj(s['shadow']);
  if (shadow === null) return '-';
  return `${str(shadow['version'])} on ${percent(shadow['percent'])} of keys since ${str(shadow['since'])}`;
}

/** "v2 10%" in the table, or "-". */
function shadowShort(s: Json): string {
  const shadow = obj(s['shadow']);
  return shadow === null ? '-' : `${str(shadow['version'])} ${percent(shadow['percent'])}`;
}

/** "shadow 10% for 5m" or "5% for 1m". */
function stepText(step: Json): string {
  const what = step['shadow'] === undefined ? percent(step['weight']) : `shadow ${percent(step['shadow'])}`;
  return `${what} for ${duration(step['bakeMs'])}`;
}

function staleMark(s: Json): string {
  return s['stale'] === true ? ' (stale)' : '';
}

export function formatServices(body: Json): string {
  const rows = list(body['services']).map((s) => [
    str(s['service']) + staleMark(s),
    str(s['phase']),
    str(s['stable']),
    str(s['candidate']),
    percent(s['weight']),
    stepOf(s),
    str(s['strategy']),
    str(s['revision']),
    shadowShort(s),
  ]);
  return table(['SERVICE', 'PHASE', 'STABLE', 'CANDIDATE', 'WEIGHT', 'STEP', 'STRATEGY', 'REV', 'SHADOW'], rows);
}

export function formatService(s: Json): string {
  const verdict = obj(s['lastVerdict']);
  const steps = list(s['steps']).map(stepText);
  const out = fields([
    ['service', str(s['service']) + staleMark(s)],
    ['phase', str(s['phase'])],
    ['stable', str(s['stable'])],
    ['candidate', str(s['candidate'])],
    ['weight', percent(s['weight'])],
    ['strategy', str(s['strategy'])],
    ['step', stepOf(s)],
    ['steps', steps.length === 0 ? '-' : steps.join(', ')],
    ['shadow', shadowLine(s)],
    ['previous', str(s['previous'])],
    ['revision', str(s['revision'])],
    ['updated', str(s['updatedAt'])],
    ['reason', str(s['reason'])],
    ['verdict', verdict === null ? '-' : `${str(verdict['result'])}: ${str(verdict['reason'])} (${str(verdict['at'])})`],
  ]);
  return s['stale'] === true ? `${out}\nwarning: the store is unreachable; this is the gateway's last known state (${str(s['staleReason'])})` : out;
}

/** One line after a write: what the service looks like now. */
export function formatApplied(action: string, s: Json): string {
  const candidate = s['candidate'] === null ? '' : `, candidate ${str(s['candidate'])} at ${percent(s['weight'])} (step ${stepOf(s)})`;
  const shadow = obj(s['shadow']) === null ? '' : `, shadow ${shadowShort(s)}`;
  return `${str(s['service'])}: ${action} done; phase ${str(s['phase'])}, stable ${str(s['stable'])}${candidate}${shadow}, revision ${str(s['revision'])}`;
}

export function formatAssignment(a: Json): string {
  return fields([
    ['key', str(a['key'])],
    ['version', str(a['version'])],
    ['reason', str(a['reason'])],
    ['why', str(a['explanation'])],
    ['bucket', str(a['bucket'])],
    ['weight', `${percent(a['weight'])} (${str(a['weightBp'])} bp)`],
    ['phase', str(a['phase'])],
    ['revision', str(a['revision'])],
  ]);
}

export function formatOverrides(body: Json): string {
  const overrides = list(body['overrides']);
  if (overrides.length === 0) return 'no overrides';
  const rows = overrides.map((o) => [str(o['key']), str(o['version']), duration(o['expiresInMs']), str(o['author']), str(o['reason'])]);
  return table(['KEY', 'VERSION', 'EXPIRES IN', 'AUTHOR', 'REASON'], rows);
}

export function formatOverride(o: Json, verb: string): string {
  return `${str(o['service'])}: ${verb} key ${str(o['key'])} -> ${str(o['version'])} (expires in ${duration(o['expiresInMs'])}, reason: ${str(o['reason'])})`;
}

export function formatAudit(body: Json): string {
  const entries = list(body['entries']);
  if (entries.length === 0) return 'no audit entries';
  const rows = entries.map((e) => [str(e['at']), str(e['service']), str(e['action']), str(e['actor']), str(e['reason'])]);
  const next = typeof body['next'] === 'string' ? `\nmore: --before ${body['next']}` : '';
  return table(['AT', 'SERVICE', 'ACTION', 'ACTOR', 'REASON'], rows) + next;
}
