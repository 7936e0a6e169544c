import { isActive, type RolloutState } from './rollout-state.js';
import { commandVerb, type CommandType, type Refusal, type RolloutCommand } from './transition.js';
import {
  DAY_MS,
  formatWallClock,
  instantsAtWallClock,
  MINUTE_MS,
  MINUTES_PER_DAY,
  minuteOfDay,
  offsetChangesOn,
  startOfDay,
  wallClockMs,
  weekdayOf,
} from './zoned-time.js';

/**
 * Release windows: when a rollout may give its candidate more traffic or make it
 * stable. Times are wall-clock times in the policy's time zone, so "09:00" stays
 * 09:00 across daylight-saving changes. On the day clocks jump forward, a window
 * starting in the skipped hour opens at the jump (one lying wholly inside it does
 * not open that day); on the day they go back, the repeated hour is inside or
 * outside a window both times.
 */

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/**
 * A period that recurs on some days of the week, from `fromMinute` (0..1439) to
 * `toMinute` (1..1440, 1440 is midnight at the end of the day). A period whose
 * end is not after its start runs past midnight into the next day: its days
 * name the day it starts.
 */
export interface DailyPeriod {
  readonly days: readonly Weekday[];
  readonly fromMinute: number;
  readonly toMinute: number;
}

export interface ReleaseWindowPolicy {
  /** An IANA zone, canonical (`Europe/Paris`). */
  readonly timeZone: string;
  /** When releases may happen; null: at any time not blocked. */
  readonly allow: readonly DailyPeriod[] | null;
  /** When releases may not happen, even inside an allowed window (Friday afternoons). */
  readonly block: readonly DailyPeriod[];
}

export type ReleaseWindowStatus =
  | { readonly open: true }
  | { readonly open: false; readonly reason: string; readonly nextOpenAt: number | null };

/** How far ahead the next opening is looked for; a weekly policy opens within 8 days. */
export const NEXT_OPEN_HORIZON_DAYS = 14;

const OPEN: ReleaseWindowStatus = Object.freeze({ open: true });

/** `09:00` from 540; 1440 is `24:00`. */
export function formatMinute(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}

/** `fri 12:00-24:00`, `mon,tue 22:00-02:00`. */
export function describePeriod(period: DailyPeriod): string {
  return `${period.days.join(',')} ${formatMinute(period.fromMinute)}-${formatMinute(period.toMinute)}`;
}

/** Whether a wall-clock reading (weekday Monday 0, minute of day) lies in a period. */
function inPeriod(period: DailyPeriod, weekday: number, minute: number): boolean {
  const today = period.days.includes(WEEKDAYS[weekday] ?? 'mon');
  if (period.fromMinute < period.toMinute) return today && minute >= period.fromMinute && minute < period.toMinute;
  const yesterday = period.days.includes(WEEKDAYS[(weekday + 6) % 7] ?? 'mon');
  return (today && minute >= period.fromMinute) || (yesterday && minute < period.toMinute);
}

interface Reading {
  readonly allowed: boolean;
  readonly blockedBy: DailyPeriod | null;
}

function readAt(policy: ReleaseWindowPolicy, weekday: number, minute: number): Reading {
  const allowed = policy.allow === null || policy.allow.some((p) => inPeriod(p, weekday, minute));
  return { allowed, blockedBy: policy.block.find((p) => inPeriod(p, weekday, minute)) ?? null };
}

function openAt(policy: ReleaseWindowPolicy, instant: number): boolean {
  const wall = wallClockMs(instant, policy.timeZone);
  const { allowed, blockedBy } = readAt(policy, weekdayOf(wall), minuteOfDay(wall));
  return allowed && blockedBy === null;
}

/** Whether releases may happen at `now`; an absent policy is always open. One Intl call. */
export function isReleaseWindowOpen(policy: ReleaseWindowPolicy | null | undefined, now: number): boolean {
  return policy == null || openAt(policy, now);
}

/** Whether any minute of the week is open, read on the wall clock: a policy that never opens is a config mistake. */
export function opensEveryWeek(policy: Omit<ReleaseWindowPolicy, 'timeZone'>): boolean {
  const weekly = { ...policy, timeZone: 'UTC' };
  for (let weekday = 0; weekday < 7; weekday++) {
    for (let minute = 0; minute < MINUTES_PER_DAY; minute++) {
      const { allowed, blockedBy } = readAt(weekly, weekday, minute);
      if (allowed && blockedBy === null) return true;
    }
  }
  return false;
}

/**
 * Instants of one local day where openness can change: every period boundary
 * and midnight (the weekday changes), each occurrence of it, and the moment
 * clocks change (a repeated hour can reopen a window without crossing a boundary).
 */
function turningPointsOn(policy: ReleaseWindowPolicy, dayWallMs: number): number[] {
  const periods = [...(policy.allow ?? []), ...policy.block];
  const minutes = new Set([0, ...periods.flatMap((p) => [p.fromMinute, p.toMinute % MINUTES_PER_DAY])]);
  const points = [...minutes].flatMap((m) => instantsAtWallClock(dayWallMs + m * MINUTE_MS, policy.timeZone));
  return [...points, ...offsetChangesOn(dayWallMs, policy.timeZone)];
}

/** The first instant after `now` when the policy is open, within the horizon; null when none. */
export function nextOpening(policy: ReleaseWindowPolicy, now: number): number | null {
  const today = startOfDay(wallClockMs(now, policy.timeZone));
  let best: number | null = null;
  let firstHitDay: number | null = null;
  // From the day before: where clocks go back at midnight, its repeated last hour follows today's start.
  for (let day = -1; day <= NEXT_OPEN_HORIZON_DAYS; day++) {
    for (const point of turningPointsOn(policy, today + day * DAY_MS)) {
      if (point > now && (best === null || point < best) && openAt(policy, point)) best = point;
    }
    // Later days' points come later, except around such a midnight change: one more day settles it.
    if (best !== null && firstHitDay !== null) break;
    if (best !== null) firstHitDay = day;
  }
  return best;
}

/**
 * Open, or closed with the reason an operator reads and when the next window
 * opens: `promotions are closed outside release windows (Europe/Paris); next
 * window opens Mon 2026-11-30 09:00 Europe/Paris`.
 */
export function releaseWindowStatus(policy: ReleaseWindowPolicy | null | undefined, now: number): ReleaseWindowStatus {
  if (policy == null) return OPEN;
  const wall = wallClockMs(now, policy.timeZone);
  const { allowed, blockedBy } = readAt(policy, weekdayOf(wall), minuteOfDay(wall));
  if (allowed && blockedBy === null) return OPEN;
  const zone = policy.timeZone;
  const why = blockedBy !== null && allowed ? `promotions are blocked during ${describePeriod(blockedBy)} (${zone})` : `promotions are closed outside release windows (${zone})`;
  const nextOpenAt = nextOpening(policy, now);
  const next = nextOpenAt === null ? `no release window opens in the next ${NEXT_OPEN_HORIZON_DAYS} days` : `next window opens ${formatWallClock(nextOpenAt, zone)} ${zone}`;
  return { open: false, reason: `${why}; ${next}`, nextOpenAt };
}

/** Commands that never wait for a window: they take traffic away from the candidate or move nothing. */
const NEVER_GATED: ReadonlySet<CommandType> = new Set(['rollback', 'pause', 'resume']);

/**
 * Whether a command needs an open release window: a promotion (by an operator or
 * the analysis's last step), an advance, and anything that gives the candidate
 * more traffic: a higher weight, a canary start at its first step's weight, a
 * blue-green switch to the candidate. Rollbacks, pauses, lower weights, a switch
 * back to stable and a blue-green start (weight 0) never wait.
 */
export function needsReleaseWindow(command: RolloutCommand, before: RolloutState, after: RolloutState): boolean {
  if (NEVER_GATED.has(command.type)) return false;
  if (command.type === 'promote' || command.type === 'advance') return true;
  return isActive(after) && after.candidate !== null && after.weightBp > before.weightBp;
}

export type ReleaseDecision =
  | { readonly allowed: true; readonly forced: boolean }
  | { readonly allowed: false; readonly refusal: Refusal; readonly nextOpenAt: number | null };

export interface ReleaseInput {
  readonly policy: ReleaseWindowPolicy | null | undefined;
  readonly command: RolloutCommand;
  readonly before: RolloutState;
  /** The state the command would write, from `transition`. */
  readonly after: RolloutState;
  readonly now: number;
  /** The operator asked to release outside the windows (with a reason, checked by the caller). */
  readonly force: boolean;
}

/** Lets a command through, refuses it until the next window, or lets it through forced (to be audited as such). */
export function decideRelease(input: ReleaseInput): ReleaseDecision {
  if (input.policy == null || !needsReleaseWindow(input.command, input.before, input.after)) return { allowed: true, forced: false };
  const status = releaseWindowStatus(input.policy, input.now);
  if (status.open) return { allowed: true, forced: false };
  if (input.force) return { allowed: true, forced: true };
  const message = `cannot ${commandVerb(input.command.type)} for service ${input.before.service}: ${status.reason}. To release anyway, send force: true with a reason.`;
  return { allowed: false, refusal: { code: 'SY_ERR_RELEASE_WINDOW_CLOSED', message }, nextOpenAt: status.nextOpenAt };
}

/** Why a forced command without a reason is refused, said of its `reason` field. */
export const FORCE_NEEDS_REASON = 'required when force is true: say why the release window is overridden, it goes to the audit log';

/** True when a command asks to be forced but gives no reason (none, or only blanks) for the audit log. */
export function forceLacksReason(force: boolean | undefined, reason: string | null | undefined): boolean {
  return force === true && (reason == null || reason.trim() === '');
}

/** The reason recorded for a forced release, so the audit log shows it was forced. */
export function forcedReason(reason: string): string {
  return `forced outside release window: ${reason}`;
}
