import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  decideRelease,
  isReleaseWindowOpen,
  needsReleaseWindow,
  opensEveryWeek,
  releaseWindowStatus,
  WEEKDAYS,
  type DailyPeriod,
  type ReleaseWindowPolicy,
  type Weekday,
} from '../../src/core/release-window.js';
import { initialState, type RolloutState, type Step } from '../../src/core/rollout-state.js';
import { transition, type RolloutCommand } from '../../src/core/transition.js';
import { instantsAtWallClock, wallClockMs } from '../../src/core/zoned-time.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function minutes(hhmm: string): number {
  const [h = 0, m = 0] = hhmm.split(':').map(Number);
  return h * 60 + m;
}

function period(days: readonly Weekday[], from: string, to: string): DailyPeriod {
  return { days, fromMinute: minutes(from), toMinute: minutes(to) };
}

function policy(timeZone: string, allow: readonly DailyPeriod[] | null, block: readonly DailyPeriod[] = []): ReleaseWindowPolicy {
  return { timeZone, allow, block };
}

const WORKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri'];
/** Office hours in Paris, and never on Friday afternoon. */
const PARIS = policy('Europe/Paris', [period(WORKDAYS, '09:00', '17:00')], [period(['fri'], '12:00', '24:00')]);

function closed(p: ReleaseWindowPolicy, now: number): { reason: string; nextOpenAt: string | null } {
  const status = releaseWindowStatus(p, now);
  if (status.open) throw new Error(`expected closed at ${iso(now)}`);
  return { reason: status.reason, nextOpenAt: iso(status.nextOpenAt) };
}

describe('releaseWindowStatus', () => {
  test('no policy is always open', () => {
    expect(releaseWindowStatus(undefined, at('2026-11-28T03:00:00Z'))).toEqual({ open: true });
    expect(releaseWindowStatus(null, at('2026-11-28T03:00:00Z'))).toEqual({ open: true });
    expect(isReleaseWindowOpen(undefined, 0)).toBe(true);
  });

  test('office hours in Paris: open from 09:00 to 17:00 local, closed at the minute they end', () => {
    // 2026-11-30 is a Monday; Paris is UTC+1 in winter.
    expect(closed(PARIS, at('2026-11-30T07:59:59.999Z')).nextOpenAt).toBe('2026-11-30T08:00:00.000Z');
    expect(releaseWindowStatus(PARIS, at('2026-11-30T08:00:00Z')).open).toBe(true);
    expect(releaseWindowStatus(PARIS, at('2026-11-30T15:59:59Z')).open).toBe(true);
    expect(closed(PARIS, at('2026-11-30T16:00:00Z'))).toEqual({
      reason: 'promotions are closed outside release windows (Europe/Paris); next window opens Tue 2026-12-01 09:00 Europe/Paris',
      nextOpenAt: '2026-12-01T08:00:00.000Z',
    });
  });

  test('Friday afternoon is blocked inside an allowed window, and the next window is Monday morning', () => {
    expect(releaseWindowStatus(PARIS, at('2026-11-27T10:59:00Z')).open).toBe(true);
    expect(closed(PARIS, at('2026-11-27T11:00:00Z'))).toEqual({
      reason: 'promotions are blocked during fri 12:00-24:00 (Europe/Paris); next window opens Mon 2026-11-30 09:00 Europe/Paris',
      nextOpenAt: '2026-11-30T08:00:00.000Z',
    });
  });

  test('weekends are closed', () => {
    for (const now of ['2026-11-28T00:00:00Z', '2026-11-28T12:00:00Z', '2026-11-29T22:59:59Z']) {
      expect(closed(PARIS, at(now))).toEqual({
        reason: 'promotions are closed outside release windows (Europe/Paris); next window opens Mon 2026-11-30 09:00 Europe/Paris',
        nextOpenAt: '2026-11-30T08:00:00.000Z',
      });
    }
  });

  test('a policy of blocks only is open at every other time: not Friday after 12:00, not weekends', () => {
    const p = policy('America/New_York', null, [period(['fri'], '12:00', '24:00'), period(['sat', 'sun'], '00:00', '24:00')]);
    expect(releaseWindowStatus(p, at('2026-11-25T03:00:00Z')).open).toBe(true); // Tue 22:00 EST
    expect(closed(p, at('2026-11-27T17:00:00Z')).reason).toContain('blocked during fri 12:00-24:00');
    expect(closed(p, at('2026-11-28T17:00:00Z'))).toEqual({
      reason: 'promotions are blocked during sat,sun 00:00-24:00 (America/New_York); next window opens Mon 2026-11-30 00:00 America/New_York',
      nextOpenAt: '2026-11-30T05:00:00.000Z',
    });
  });

  test('a window spanning midnight belongs to the day it starts', () => {
    const p = policy('UTC', [period(['fri'], '22:00', '02:00')]);
    expect(closed(p, at('2026-11-27T21:59:00Z')).nextOpenAt).toBe('2026-11-27T22:00:00.000Z');
    expect(releaseWindowStatus(p, at('2026-11-27T23:30:00Z')).open).toBe(true);
    expect(releaseWindowStatus(p, at('2026-11-28T01:59:59Z')).open).toBe(true);
    expect(closed(p, at('2026-11-28T02:00:00Z')).nextOpenAt).toBe('2026-12-04T22:00:00.000Z');
    // Saturday night is not Friday night.
    expect(closed(p, at('2026-11-28T23:00:00Z')).nextOpenAt).toBe('2026-12-04T22:00:00.000Z');
  });

  test('a blocked night spanning midnight', () => {
    const p = policy('Asia/Kolkata', null, [period(['sun'], '20:00', '06:00')]);
    // Kolkata is UTC+05:30 all year.
    expect(releaseWindowStatus(p, at('2026-11-29T14:29:00Z')).open).toBe(true); // Sun 19:59
    expect(closed(p, at('2026-11-29T14:30:00Z')).nextOpenAt).toBe('2026-11-30T00:30:00.000Z'); // Mon 06:00
    expect(closed(p, at('2026-11-30T00:29:00Z')).reason).toContain('next window opens Mon 2026-11-30 06:00 Asia/Kolkata');
  });

  test('a zone with a half-hour offset', () => {
    const p = policy('Asia/Kolkata', [period(WORKDAYS, '10:00', '18:00')]);
    expect(closed(p, at('2026-11-30T04:29:59Z')).nextOpenAt).toBe('2026-11-30T04:30:00.000Z');
    expect(releaseWindowStatus(p, at('2026-11-30T04:30:00Z')).open).toBe(true);
  });
});

describe('daylight-saving changes', () => {
  test('09:00 stays 09:00 local when clocks jumped forward over the weekend (Paris, New York)', () => {
    // Paris jumps on Sun 2026-03-29 at 01:00 UTC: Monday 09:00 is 07:00 UTC, not 08:00.
    expect(closed(PARIS, at('2026-03-27T16:00:00Z')).nextOpenAt).toBe('2026-03-30T07:00:00.000Z');
    const ny = policy('America/New_York', [period(WORKDAYS, '09:00', '17:00')]);
    // New York jumps on Sun 2026-03-08: Friday 17:00 EST, Monday 09:00 EDT.
    expect(closed(ny, at('2026-03-06T22:00:00Z'))).toEqual({
      reason: 'promotions are closed outside release windows (America/New_York); next window opens Mon 2026-03-09 09:00 America/New_York',
      nextOpenAt: '2026-03-09T13:00:00.000Z',
    });
    // And back on Sun 2026-11-01: Monday 09:00 EST is 14:00 UTC.
    expect(closed(ny, at('2026-10-30T21:00:00Z')).nextOpenAt).toBe('2026-11-02T14:00:00.000Z');
  });

  test('a window starting inside the skipped hour opens at the jump', () => {
    const p = policy('Europe/Paris', [period(['sun'], '02:30', '04:00')]);
    expect(closed(p, at('2026-03-28T12:00:00Z'))).toEqual({
      reason: 'promotions are closed outside release windows (Europe/Paris); next window opens Sun 2026-03-29 03:00 Europe/Paris',
      nextOpenAt: '2026-03-29T01:00:00.000Z',
    });
    expect(releaseWindowStatus(p, at('2026-03-29T00:59:59Z')).open).toBe(false);
    expect(releaseWindowStatus(p, at('2026-03-29T01:59:59Z')).open).toBe(true);
    expect(releaseWindowStatus(p, at('2026-03-29T02:00:00Z')).open).toBe(false);
  });

  test('a window lying wholly inside the skipped hour does not open that day (Sydney)', () => {
    const p = policy('Australia/Sydney', [period(['sun'], '02:00', '02:30')]);
    // Sydney jumps from 02:00 to 03:00 on Sun 2026-10-04; the week after, 02:00 AEDT is Sat 15:00 UTC.
    expect(closed(p, at('2026-10-03T12:00:00Z')).nextOpenAt).toBe('2026-10-10T15:00:00.000Z');
  });

  test('the hour repeated when clocks go back is inside a window both times (Paris)', () => {
    const p = policy('Europe/Paris', [period(['sun'], '02:00', '02:30')]);
    // Sun 2026-10-25: 02:00-03:00 CEST (00:00-01:00 UTC), then 02:00-03:00 CET (01:00-02:00 UTC).
    expect(closed(p, at('2026-10-24T12:00:00Z')).nextOpenAt).toBe('2026-10-25T00:00:00.000Z');
    expect(releaseWindowStatus(p, at('2026-10-25T00:15:00Z')).open).toBe(true);
    // Between the two passes the wall clock reads 02:45 and the window reopens when it shows 02:00 again.
    expect(closed(p, at('2026-10-25T00:45:00Z')).nextOpenAt).toBe('2026-10-25T01:00:00.000Z');
    expect(releaseWindowStatus(p, at('2026-10-25T01:15:00Z')).open).toBe(true);
    expect(closed(p, at('2026-10-25T01:30:00Z')).nextOpenAt).toBe('2026-11-01T01:00:00.000Z');
  });

  test('Sydney, southern hemisphere: Monday 09:00 after clocks went back in April', () => {
    const p = policy('Australia/Sydney', [period(WORKDAYS, '09:00', '17:00')]);
    // Fri 2026-04-03 17:00 AEDT (+11); Mon 2026-04-06 09:00 AEST (+10) is Sun 23:00 UTC.
    expect(closed(p, at('2026-04-03T06:00:00Z')).nextOpenAt).toBe('2026-04-05T23:00:00.000Z');
  });

  test('Santiago changes clocks at midnight: a day that starts at 01:00, and a Saturday 23:00 that comes twice', () => {
    const sunday = policy('America/Santiago', [period(['sun'], '00:00', '06:00')]);
    // Sun 2026-09-06 00:00 does not exist: the day starts at 01:00 (-03), 04:00 UTC.
    expect(closed(sunday, at('2026-09-05T16:00:00Z')).nextOpenAt).toBe('2026-09-06T04:00:00.000Z');
    // Sat 2026-04-04 23:00-24:00 is lived twice (-03, then -04 from 03:00 UTC); Sunday begins at 04:00 UTC.
    expect(closed(sunday, at('2026-04-05T02:30:00Z')).nextOpenAt).toBe('2026-04-05T04:00:00.000Z');
    const lateSaturday = policy('America/Santiago', [period(['sat'], '23:45', '24:00')]);
    expect(closed(lateSaturday, at('2026-04-05T03:30:00Z')).nextOpenAt).toBe('2026-04-05T03:45:00.000Z');
  });

  test('wall-clock helpers: two instants in the repeated hour, the jump for a skipped time', () => {
    expect(instantsAtWallClock(Date.UTC(2026, 9, 25, 2, 30), 'Europe/Paris').map(iso)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-25T01:30:00.000Z']);
    expect(instantsAtWallClock(Date.UTC(2026, 2, 29, 2, 30), 'Europe/Paris').map(iso)).toEqual(['2026-03-29T01:00:00.000Z']);
    expect(instantsAtWallClock(Date.UTC(2026, 2, 29, 12, 0), 'Europe/Paris').map(iso)).toEqual(['2026-03-29T10:00:00.000Z']);
    expect(wallClockMs(at('2026-03-29T01:00:00Z'), 'Europe/Paris')).toBe(Date.UTC(2026, 2, 29, 3, 0));
  });
});

describe('next opening, as a property', () => {
  const ZONES = ['UTC', 'Europe/Paris', 'America/New_York', 'Australia/Sydney', 'Asia/Kolkata', 'America/Santiago', 'Pacific/Chatham'];
  const hhmm = fc.integer({ min: 0, max: 95 }).map((q) => q * 15);
  const arbPeriod = fc
    .record({ days: fc.subarray([...WEEKDAYS], { minLength: 1 }), from: hhmm, to: fc.integer({ min: 1, max: 96 }).map((q) => q * 15) })
    .filter((p) => p.from !== p.to % 1440)
    .map((p): DailyPeriod => ({ days: p.days, fromMinute: p.from, toMinute: p.to }));
  const arbPolicy = fc
    .record({
      timeZone: fc.constantFrom(...ZONES),
      allow: fc.option(fc.array(arbPeriod, { minLength: 1, maxLength: 3 }), { nil: null }),
      block: fc.array(arbPeriod, { maxLength: 2 }),
    })
    .filter(opensEveryWeek);
  /** 2026's daylight-saving changes of those zones (Chatham's are close to Sydney's). */
  const CHANGES = ['2026-03-08T07:00:00Z', '2026-03-29T01:00:00Z', '2026-04-04T16:00:00Z', '2026-04-05T03:00:00Z', '2026-09-06T04:00:00Z', '2026-10-03T16:00:00Z', '2026-10-25T01:00:00Z', '2026-11-01T06:00:00Z'].map(at);
  const DAY = 86_400_000;
  // Any time in 2026, and often within two days of a change.
  const arbNow = fc.oneof(
    fc.integer({ min: at('2026-01-01T00:00:00Z'), max: at('2027-01-01T00:00:00Z') }),
    fc.constantFrom(...CHANGES).chain((t) => fc.integer({ min: t - 2 * DAY, max: t + 2 * DAY })),
  );

  test('when closed, the policy is closed until nextOpenAt and open at it', () => {
    fc.assert(
      fc.property(arbPolicy, arbNow, (p, now) => {
        const status = releaseWindowStatus(p, now);
        expect(status.open).toBe(isReleaseWindowOpen(p, now));
        if (status.open) return;
        expect(status.nextOpenAt).not.toBeNull();
        const next = status.nextOpenAt!;
        expect(next).toBeGreaterThan(now);
        expect(isReleaseWindowOpen(p, next)).toBe(true);
        expect(isReleaseWindowOpen(p, next - 1)).toBe(false);
        // Closed everywhere in between, checked minute by minute (up to a day) and then every 7 minutes.
        for (let t = now; t < next; t += t - now < 86_400_000 ? 60_000 : 420_000) expect(isReleaseWindowOpen(p, t)).toBe(false);
      }),
      { numRuns: 150 },
    );
  });
});

describe('opensEveryWeek', () => {
  test('a block covering every allowed window never opens', () => {
    expect(opensEveryWeek({ allow: [period(['mon'], '09:00', '17:00')], block: [period(['mon'], '00:00', '24:00')] })).toBe(false);
    expect(opensEveryWeek({ allow: null, block: [period([...WEEKDAYS], '00:00', '24:00')] })).toBe(false);
    expect(opensEveryWeek({ allow: [period(['mon'], '09:00', '17:00')], block: [period(['mon'], '09:00', '16:59')] })).toBe(true);
  });
});

const STEPS: readonly Step[] = [
  { weightBp: 500, bakeMs: 60_000 },
  { weightBp: 10_000, bakeMs: 60_000 },
];
const VERSIONS = ['v1', 'v2'];
const T0 = at('2026-11-28T10:00:00Z'); // a Saturday: closed in PARIS

function idle(strategy: 'canary' | 'blue-green' = 'canary'): RolloutState {
  return initialState({ service: 'fraud-scorer', stable: 'v1', strategy, steps: STEPS, now: T0 });
}

function apply(state: RolloutState, command: RolloutCommand): RolloutState {
  const result = transition(state, command, { versions: VERSIONS, now: T0, reason: null });
  if (!result.ok) throw new Error(result.refusal.message);
  return result.state;
}

function gated(state: RolloutState, command: RolloutCommand): boolean {
  return needsReleaseWindow(command, state, apply(state, command));
}

describe('needsReleaseWindow: what waits for a window', () => {
  const canary = apply(idle(), { type: 'start', candidate: 'v2' });
  const blueGreen = apply(idle('blue-green'), { type: 'start', candidate: 'v2' });
  const switched = apply(blueGreen, { type: 'switch' });

  test('promote, advance, a weight increase and a canary start wait', () => {
    expect(gated(canary, { type: 'promote' })).toBe(true);
    expect(gated(canary, { type: 'advance' })).toBe(true);
    expect(gated(canary, { type: 'set-weight', weightBp: 501 })).toBe(true);
    expect(gated(idle(), { type: 'start', candidate: 'v2' })).toBe(true);
  });

  test('a blue-green switch to the candidate and its promotion wait', () => {
    expect(gated(blueGreen, { type: 'switch' })).toBe(true);
    expect(gated(switched, { type: 'promote' })).toBe(true);
  });

  test('rollback, pause, resume, a lower or equal weight, a switch back and a warm blue-green start never wait', () => {
    expect(gated(canary, { type: 'rollback' })).toBe(false);
    expect(gated(canary, { type: 'pause' })).toBe(false);
    expect(gated({ ...canary, phase: 'paused' }, { type: 'resume' })).toBe(false);
    expect(gated(canary, { type: 'set-weight', weightBp: 100 })).toBe(false);
    expect(gated(canary, { type: 'set-weight', weightBp: 500 })).toBe(false);
    expect(gated(switched, { type: 'switch' })).toBe(false);
    expect(gated(apply(switched, { type: 'promote' }), { type: 'switch' })).toBe(false);
    expect(gated(idle('blue-green'), { type: 'start', candidate: 'v2' })).toBe(false);
    expect(gated(idle(), { type: 'start', candidate: 'v2', steps: [{ weightBp: 0, bakeMs: 1 }] })).toBe(false);
  });
});

describe('decideRelease', () => {
  const canary = apply(idle(), { type: 'start', candidate: 'v2' });
  const promote: RolloutCommand = { type: 'promote' };
  const input = { policy: PARIS, command: promote, before: canary, after: apply(canary, promote), now: T0, force: false };

  test('refuses a gated command outside the windows with the next opening', () => {
    const decision = decideRelease(input);
    expect(decision).toEqual({
      allowed: false,
      nextOpenAt: at('2026-11-30T08:00:00Z'),
      refusal: {
        code: 'SY_ERR_RELEASE_WINDOW_CLOSED',
        message:
          'cannot promote for service fraud-scorer: promotions are closed outside release windows (Europe/Paris); next window opens Mon 2026-11-30 09:00 Europe/Paris. To release anyway, send force: true with a reason.',
      },
    });
  });

  test('lets it through forced, inside a window, without a policy, and for a rollback', () => {
    expect(decideRelease({ ...input, force: true })).toEqual({ allowed: true, forced: true });
    expect(decideRelease({ ...input, now: at('2026-11-30T08:00:00Z') })).toEqual({ allowed: true, forced: false });
    expect(decideRelease({ ...input, force: true, now: at('2026-11-30T08:00:00Z') })).toEqual({ allowed: true, forced: false });
    expect(decideRelease({ ...input, policy: undefined })).toEqual({ allowed: true, forced: false });
    const rollback: RolloutCommand = { type: 'rollback' };
    expect(decideRelease({ ...input, command: rollback, after: apply(canary, rollback) })).toEqual({ allowed: true, forced: false });
  });
});
