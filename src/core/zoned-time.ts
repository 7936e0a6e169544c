/**
 * Wall-clock time in an IANA time zone, from the ICU data Node ships with
 * (Intl.DateTimeFormat). Pure: every instant is an argument, nothing reads the clock.
 *
 * A "wall-clock ms" is what a clock on the wall in that zone shows, written as if
 * it were UTC: `Date.UTC(year, month - 1, day, hour, minute, second) + ms`. It goes
 * back on the day clocks go back and skips the hour clocks jump over.
 */

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;
export const MINUTES_PER_DAY = 1440;

/** Formatters are costly to build and immutable, so one per zone is kept. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let found = formatters.get(timeZone);
  if (found === undefined) {
    found = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, found);
  }
  return found;
}

/** The zone's canonical name (`europe/paris` -> `Europe/Paris`, `US/Eastern` -> `America/New_York`), or null when ICU does not know it. */
export function canonicalTimeZone(name: string): string | null {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

/** What the wall clock in `timeZone` shows at `instant`. */
export function wallClockMs(instant: number, timeZone: string): number {
  const f: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(instant)) if (part.type !== 'literal') f[part.type] = Number(part.value);
  const ms = ((instant % 1000) + 1000) % 1000;
  // Some ICU versions write midnight as 24 even with h23.
  return Date.UTC(f['year'] ?? 0, (f['month'] ?? 1) - 1, f['day'] ?? 1, (f['hour'] ?? 0) % 24, f['minute'] ?? 0, f['second'] ?? 0) + ms;
}

/** The zone's offset from UTC at `instant` (Paris in winter: +3 600 000). */
export function utcOffsetMs(instant: number, timeZone: string): number {
  return wallClockMs(instant, timeZone) - instant;
}

/** Monday 0 .. Sunday 6 of a wall-clock ms (1970-01-01 was a Thursday). */
export function weekdayOf(wallMs: number): number {
  return (((Math.floor(wallMs / DAY_MS) + 3) % 7) + 7) % 7;
}

/** Minutes since the wall clock's midnight, 0..1439. */
export function minuteOfDay(wallMs: number): number {
  return Math.floor((((wallMs % DAY_MS) + DAY_MS) % DAY_MS) / MINUTE_MS);
}

/** The wall-clock midnight that starts the day of a wall-clock ms. */
export function startOfDay(wallMs: number): number {
  return Math.floor(wallMs / DAY_MS) * DAY_MS;
}

/**
 * The first instant in (`fromMs`, `toMs`] whose offset is the one at `toMs`, given
 * that the offset changes once in between: the moment clocks change.
 */
export function offsetChangeAt(fromMs: number, toMs: number, timeZone: string): number {
  const after = utcOffsetMs(toMs, timeZone);
  let lo = fromMs;
  let hi = toMs;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (utcOffsetMs(mid, timeZone) === after) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * The instants at which the wall clock shows `wallMs`, oldest first: usually one;
 * two in the hour that repeats when clocks go back; and when clocks jump over it,
 * the moment of the jump, the first instant the wall clock is past it.
 */
export function instantsAtWallClock(wallMs: number, timeZone: string): number[] {
  // Offsets in force around that wall time; zones change offset at most once in two days.
  const offsets = [...new Set([-DAY_MS, 0, DAY_MS].map((d) => utcOffsetMs(wallMs + d, timeZone)))];
  const found = [...new Set(offsets.map((o) => wallMs - o).filter((t) => wallClockMs(t, timeZone) === wallMs))].sort((a, b) => a - b);
  if (found.length > 0 || offsets.length < 2) return found;
  return [offsetChangeAt(wallMs - Math.max(...offsets), wallMs - Math.min(...offsets), timeZone)];
}

/** The moments clocks change during the local day that starts at wall-clock midnight `dayWallMs`. */
export function offsetChangesOn(dayWallMs: number, timeZone: string): number[] {
  const start = instantsAtWallClock(dayWallMs, timeZone)[0];
  const end = instantsAtWallClock(dayWallMs + DAY_MS, timeZone)[0];
  if (start === undefined || end === undefined || end - 1 <= start) return [];
  if (utcOffsetMs(start, timeZone) === utcOffsetMs(end - 1, timeZone)) return [];
  return [offsetChangeAt(start, end - 1, timeZone)];
}

const WEEKDAY_LABELS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

/** `Mon 2026-11-30 09:00`: the wall clock in `timeZone` at `instant`. */
export function formatWallClock(instant: number, timeZone: string): string {
  const wall = wallClockMs(instant, timeZone);
  const iso = new Date(wall).toISOString();
  return `${WEEKDAY_LABELS[weekdayOf(wall)] ?? ''} ${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}
