import { describe, expect, test } from 'vitest';
import { CONTROL_RULES } from '../../src/core/control-rules.js';
import { decideProgression, decideRound, inconclusiveCount } from '../../src/core/progression.js';
import { initialState, type RolloutState, type Verdict } from '../../src/core/rollout-state.js';
import { transition } from '../../src/core/transition.js';

const T0 = 1_700_000_000_000;
const STEPS = [
  { weightBp: 1000, bakeMs: 60_000 },
  { weightBp: 5000, bakeMs: 60_000 },
];
const LIMITS = { maxInconclusive: 3 };

function started(): RolloutState {
  const base = initialState({ service: 'fraud-scorer', stable: 'v1', strategy: 'canary', steps: STEPS, now: T0 });
  const result = transition(base, { type: 'start', candidate: 'v2' }, { versions: ['v1', 'v2'], now: T0, reason: null });
  if (!result.ok) throw new Error(result.refusal.message);
  return result.state;
}

function verdict(result: Verdict['result'], hold = false): Verdict {
  return { result, reason: `it was ${result}`, at: T0, hold, checks: [], figures: {} };
}

describe('decideProgression', () => {
  test('a fail rolls back at once, even in the middle of the bake time and when paused', () => {
    const state = started();
    expect(decideProgression(state, verdict('fail'), 0, T0 + 1, LIMITS)).toEqual({
      command: { type: 'rollback' },
      reason: 'analysis: it was fail',
      rule: CONTROL_RULES.failRollsBack,
    });
    expect(decideProgression({ ...state, phase: 'paused' }, verdict('fail'), 0, T0 + 1, LIMITS)?.command).toEqual({ type: 'rollback' });
  });

  test('a pass advances only after the bake time of the step', () => {
    const state = started();
    expect(decideProgression(state, verdict('pass'), 0, T0 + 59_999, LIMITS)).toBeNull();
    expect(decideProgression(state, verdict('pass'), 0, T0 + 60_000, LIMITS)?.command).toEqual({ type: 'advance' });
  });

  test('inconclusive never advances; past the limit after the bake it pauses for a human', () => {
    const state = started();
    expect(decideProgression(state, verdict('inconclusive'), 10, T0 + 1_000, LIMITS)).toBeNull();
    expect(decideProgression(state, verdict('inconclusive'), 2, T0 + 120_000, LIMITS)).toBeNull();
    const paused = decideProgression(state, verdict('inconclusive'), 3, T0 + 120_000, LIMITS);
    expect(paused?.command).toEqual({ type: 'pause' });
    expect(paused?.reason).toContain('3 inconclusive verdicts in a row');
  });

  test('a hold (sample-ratio mismatch) and a paused rollout are judged but not moved', () => {
    const state = started();
    expect(decideProgression(state, verdict('pass', true), 0, T0 + 120_000, LIMITS)).toBeNull();
    expect(decideProgression({ ...state, phase: 'paused' }, verdict('pass'), 0, T0 + 120_000, LIMITS)).toBeNull();
  });

  test('nothing happens without an active rollout', () => {
    const idle = initialState({ service: 'fraud-scorer', stable: 'v1', strategy: 'canary', steps: STEPS, now: T0 });
    expect(decideProgression(idle, verdict('fail'), 0, T0, LIMITS)).toBeNull();
  });
});

describe('decideProgression outside the release windows', () => {
  // T0 is Tue 2023-11-14 22:13 UTC: outside office hours in UTC.
  const OFFICE = { timeZone: 'UTC', allow: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'] as const, fromMinute: 9 * 60, toMinute: 17 * 60 }], block: [] };
  const CLOSED = { ...LIMITS, releaseWindows: OFFICE };
  const NEXT_MORNING = Date.UTC(2023, 10, 15, 9, 0);

  test('a passing, baked step is held (no command, no pause) until the window opens, then advances', () => {
    const state = started();
    expect(decideProgression(state, verdict('pass'), 0, T0 + 60_000, CLOSED)).toBeNull();
    expect(decideProgression(state, verdict('pass'), 0, NEXT_MORNING - 1, CLOSED)).toBeNull();
    expect(decideProgression(state, verdict('pass'), 0, NEXT_MORNING, CLOSED)?.command).toEqual({ type: 'advance' });
  });

  test('a fail still rolls back at once', () => {
    expect(decideProgression(started(), verdict('fail'), 0, T0 + 1, CLOSED)?.command).toEqual({ type: 'rollback' });
  });

  test('inconclusive verdicts still pause for a human at the limit, window or not', () => {
    expect(decideProgression(started(), verdict('inconclusive'), 3, T0 + 120_000, CLOSED)?.command).toEqual({ type: 'pause' });
  });
});

describe('advance', () => {
  const ctx = (now: number) => ({ versions: ['v1', 'v2'], now, reason: 'analysis' });

  test('moves to the next step, never lowering the weight, and the last step promotes', () => {
    const state = { ...started(), weightBp: 7000 };
    const second = transition(state, { type: 'advance' }, ctx(T0 + 60_000));
    expect(second.ok && second.state).toMatchObject({ stepIndex: 1, weightBp: 7000, stepStartedAt: T0 + 60_000 });
    const done = second.ok ? transition(second.state, { type: 'advance' }, ctx(T0 + 120_000)) : second;
    expect(done.ok && done.state).toMatchObject({ phase: 'promoted', stable: 'v2', previous: 'v1', candidate: null, weightBp: 0 });
  });

  test("never keeps a verdict in the state document: the store's verdict record is its one home", () => {
    const result = transition({ ...started(), lastVerdict: verdict('pass') }, { type: 'rollback' }, ctx(T0 + 5));
    expect(result.ok && result.state.lastVerdict).toBeNull();
  });

  test('is refused for a paused rollout and for blue-green', () => {
    const paused = { ...started(), phase: 'paused' as const };
    expect(transition(paused, { type: 'advance' }, ctx(T0)).ok).toBe(false);
    expect(transition({ ...started(), strategy: 'blue-green' }, { type: 'advance' }, ctx(T0)).ok).toBe(false);
  });
});

describe('inconclusive counting and holds', () => {
  const bakeEnds = T0 + 60_000;

  test('inconclusive rounds count only once the bake time is over, and any other round starts again', () => {
    const state = started();
    expect(inconclusiveCount(state, verdict('inconclusive'), 7, bakeEnds - 1, null)).toBe(0);
    expect(inconclusiveCount(state, verdict('inconclusive'), 7, bakeEnds, null)).toBe(8);
    expect(inconclusiveCount(state, verdict('pass'), 7, bakeEnds, null)).toBe(0);
    expect(inconclusiveCount({ ...state, phase: 'paused' }, verdict('inconclusive'), 7, bakeEnds, null)).toBe(0);
  });

  test('a manual canary is never counted, never advanced, and rolled back on a fail', () => {
    const manual = { ...started(), steps: [], weightBp: 500 };
    expect(inconclusiveCount(manual, verdict('inconclusive'), 100, bakeEnds, null)).toBe(0);
    expect(decideProgression(manual, verdict('pass'), 0, bakeEnds * 2, LIMITS)).toBeNull();
    expect(decideProgression(manual, verdict('fail'), 0, T0, LIMITS)?.command).toEqual({ type: 'rollback' });
  });

  test('a sample-ratio hold keeps the time it began, is not counted as inconclusive, and holds no more once paused', () => {
    const state = started();
    const first = decideRound({ state, verdict: verdict('inconclusive', true), inconclusiveInARow: 5, previousHold: null, now: bakeEnds, limits: LIMITS });
    expect(first).toEqual({ hold: { kind: 'sample-ratio', reason: 'it was inconclusive', since: bakeEnds }, inconclusiveInARow: 0, progression: null });
    const later = decideRound({ state, verdict: verdict('inconclusive', true), inconclusiveInARow: 0, previousHold: first.hold, now: bakeEnds + 5_000, limits: LIMITS });
    expect(later.hold?.since).toBe(bakeEnds);
    const paused = { ...state, phase: 'paused' as const };
    expect(decideRound({ state: paused, verdict: verdict('inconclusive', true), inconclusiveInARow: 0, previousHold: first.hold, now: bakeEnds, limits: LIMITS }).hold).toBeNull();
  });

  test('a round that rolls back holds nothing: the rollout it would hold is over', () => {
    const round = decideRound({ state: started(), verdict: verdict('fail', true), inconclusiveInARow: 0, previousHold: null, now: bakeEnds, limits: LIMITS });
    expect(round.progression?.command).toEqual({ type: 'rollback' });
    expect(round.hold).toBeNull();
  });

  test("an operator's weight restarts the bake: a passing verdict right after it does not advance", () => {
    const state = started();
    const moved = transition(state, { type: 'set-weight', weightBp: 2000 }, { versions: ['v1', 'v2'], now: bakeEnds + 1_000, reason: null });
    if (!moved.ok) throw new Error(moved.refusal.message);
    expect(decideProgression(state, verdict('pass'), 0, bakeEnds + 1_000, LIMITS)?.command).toEqual({ type: 'advance' });
    expect(decideProgression(moved.state, verdict('pass'), 0, bakeEnds + 1_000, LIMITS)).toBeNull();
    expect(decideProgression(moved.state, verdict('pass'), 0, bakeEnds + 61_000, LIMITS)?.command).toEqual({ type: 'advance' });
  });
});
