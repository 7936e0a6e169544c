import { durationText } from '../core/duration-text.js';
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

export function fields(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 1)}  ${v}`).join('\n');
}

export const str = (v: unknown): string => (v === null || v === undefined ? '-' : String(v));
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
export const list = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
export const obj = (v: unknown): Json | null => (typeof v === 'object' && v !== null ? (v as Json) : null);

export function percent(v: unknown): string {
  return typeof v === 'number' ? `${v}%` : '-';
}

/** A duration in ms as the console shows it too ("2m 30s"), or "-" where there is none. */
function duration(ms: unknown): string {
  return typeof ms === 'number' ? durationText(ms) : '-';
}

/** "2/3" while a rollout runs: the step we are on out of the plan's steps; "manual" for a canary without steps. */
function stepOf(s: Json): string {
  if (s['manual'] === true) return 'manual';
  const steps = list(s['steps']);
  if (s['candidate'] === null || s['candidate'] === undefined || steps.length === 0) return '-';
  return `${num(s['step']) + 1}/${steps.length}`;
}

/** What holds the rollout, from the state's last verdict; null when nothing does. */
function heldOf(s: Json): Json | null {
  return obj(obj(s['lastVerdict'])?.['held']);
}

/** Time from an ISO instant to `now`: "2m 30s", "under 1s"; null when the instant is not one. */
export function elapsedSince(iso: unknown, now: number): string | null {
  const ms = now - Date.parse(str(iso));
  if (!Number.isFinite(ms)) return null;
  return ms < 1000 ? 'under 1s' : duration(ms);
}

/** "candidate share 9% vs 5% (since 2025-01-06T10:00:00.000Z, for 2m 30s)": the hold's reason, when it began and for how long. */
export function heldText(held: Json, now: number): string {
  const elapsed = elapsedSince(held['since'], now);
  return `${str(held['reason'])} (since ${str(held['since'])}${elapsed === null ? '' : `, for ${elapsed}`})`;
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
    str(s['phase']) + (heldOf(s) === null ? '' : ' (held)'),
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

const MANUAL_STEPS = 'none: a manual canary, operators set its weight; the analysis may roll it back, never advance it';

export function formatService(s: Json, now: number): string {
  const verdict = obj(s['lastVerdict']);
  const held = heldOf(s);
  const steps = list(s['steps']).map(stepText);
  const out = fields([
    ['service', str(s['service']) + staleMark(s)],
    ['phase', str(s['phase'])],
    ['stable', str(s['stable'])],
    ['candidate', str(s['candidate'])],
    ['weight', percent(s['weight'])],
    ['strategy', str(s['strategy'])],
    ['step', stepOf(s)],
    ['steps', s['manual'] === true ? MANUAL_STEPS : steps.length === 0 ? '-' : steps.join(', ')],
    ['shadow', shadowLine(s)],
    ['previous', str(s['previous'])],
    ['revision', str(s['revision'])],
    ['updated', str(s['updatedAt'])],
    ['reason', str(s['reason'])],
    ['verdict', verdict === null ? '-' : `${str(verdict['result'])}: ${str(verdict['reason'])} (${str(verdict['at'])})`],
    ...(held === null ? [] : [['held', heldText(held, now)] as const]),
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

/** One row per entry; an entry that applied an operator/analysis rule has it on the line below, indented. */
export function formatAudit(body: Json): string {
  const entries = list(body['entries']);
  if (entries.length === 0) return 'no audit entries';
  const rows = entries.map((e) => [str(e['at']), str(e['service']), str(e['action']), str(e['actor']), str(e['reason'])]);
  const [header = '', ...lines] = table(['AT', 'SERVICE', 'ACTION', 'ACTOR', 'REASON'], rows).split('\n');
  const withRules = lines.flatMap((line, i) => {
    const rule = entries[i]?.['rule'];
    return typeof rule === 'string' ? [line, `  rule: ${rule}`] : [line];
  });
  const next = typeof body['next'] === 'string' ? `\nmore: --before ${body['next']}` : '';
  return [header, ...withRules].join('\n') + next;
}
