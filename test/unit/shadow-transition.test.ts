import { describe, expect, test } from 'vitest';
import { decideProgression, decisiveResult, shadowHoldReason } from '../../src/core/progression.js';
import { initialState, parseStoredState, type RolloutState, type ShadowVerdict, type Step, type Verdict } from '../../src/core/rollout-state.js';
import { transition, type Refusal, type RolloutCommand } from '../../src/core/transition.js';

const SERVICE = 'fraud-scorer';
const VERSIONS = ['v1', 'v2', 'v3'];
const T0 = 1_700_000_000_000;
const LIMITS = { maxInconclusive: 3 };

/** Two shadow steps (1 %, then 10 % of keys mirrored), then a weighted canary. */
const SHADOW_PLAN: readonly Step[] = [
  { weightBp: 0, bakeMs: 60_000, shadowBp: 100 },
  { weightBp: 0, bakeMs: 60_000, shadowBp: 1_000 },
  { weightBp: 500, bakeMs: 60_000 },
  { weightBp: 10_000, bakeMs: 60_000 },
];
const CANARY: readonly Step[] = [
  { weightBp: 500, bakeMs: 60_000 },
  { weightBp: 10_000, bakeMs: 60_000 },
];

const idle = (steps: readonly Step[] = SHADOW_PLAN) => initialState({ service: SERVICE, stable: 'v1', strategy: 'canary', steps, now: T0 });

function accept(state: RolloutState, command: RolloutCommand, now = T0 + 1_000): RolloutState {
  const result = transition(state, command, { versions: VERSIONS, now, reason: null });
  if (!result.ok) throw new Error(`expected ${command.type} to be accepted, got: ${result.refusal.message}`);
  return result.state;
}

function refusalOf(state: RolloutState, command: RolloutCommand): Refusal {
  const result = transition(state, command, { versions: VERSIONS, now: T0 + 1_000, reason: null });
  if (result.ok) throw new Error(`expected ${command.type} to be refused`);
  return result.refusal;
}

const shadowOf = (version: string, sampleBp: number): RolloutCommand => ({ type: 'shadow', version, sampleBp });

describe('shadow: set and stop', () => {
  test('sets a shadow with its own salt, the time it began and the sample, in any phase', () => {
    const state = accept(idle(CANARY), shadowOf('v2', 1_000), T0 + 5);
    expect(state.shadow).toEqual({ version: 'v2', sampleBp: 1_000, salt: 'fraud-scorer:shadow', since: T0 + 5 });
    expect(state.salt).not.toBe(state.shadow?.salt);
    expect(state).toMatchObject({ phase: 'stable', weightBp: 0, candidate: null, revision: 2 });
  });

  test('a new sample for the same version keeps when it began; another version starts afresh', () => {
    const first = accept(idle(CANARY), shadowOf('v2', 1_000), T0 + 5);
    const wider = accept(first, shadowOf('v2', 5_000), T0 + 10);
    expect(wider.shadow).toMatchObject({ version: 'v2', sampleBp: 5_000, since: T0 + 5 });
    const other = accept(wider, shadowOf('v3', 5_000), T0 + 20);
    expect(other.shadow).toMatchObject({ version: 'v3', since: T0 + 20 });
  });

  test('shadowing stable is refused: it would be compared with itself', () => {
    expect(refusalOf(idle(), shadowOf('v1', 1_000))).toEqual({
      code: 'SY_ERR_SHADOW_CONFLICT',
      message: 'cannot set a shadow: service fraud-scorer serves v1 as stable; shadowing stable compares it with itself',
    });
  });

  test('an unknown version is refused listing the versions', () => {
    expect(refusalOf(idle(), shadowOf('v9', 1_000))).toEqual({
      code: 'SY_ERR_UNKNOWN_VERSION',
      message: 'cannot set a shadow: service fraud-scorer has no version v9 (versions: v1, v2, v3)',
    });
  });

  test('the candidate is refused once it has live traffic, and accepted while it has none', () => {
    const canary = accept(idle(CANARY), { type: 'start', candidate: 'v2' });
    expect(refusalOf(canary, shadowOf('v2', 1_000))).toEqual({
      code: 'SY_ERR_SHADOW_CONFLICT',
      message: 'cannot set a shadow: service fraud-scorer already gives candidate v2 5% of live traffic; its answers are judged live, set the weight to 0 to shadow it',
    });
    const blueGreen = accept(idle(CANARY), { type: 'start', candidate: 'v2', strategy: 'blue-green' });
    expect(accept(blueGreen, shadowOf('v2', 2_000)).shadow).toMatchObject({ version: 'v2', sampleBp: 2_000 });
    // Another version beside a live canary is fine.
    expect(accept(canary, shadowOf('v3', 2_000)).shadow?.version).toBe('v3');
  });

  test.each([0, -1, 10_001, 12.5, Number.NaN])('a sample of %s bp is refused', (sampleBp) => {
    expect(refusalOf(idle(), shadowOf('v2', sampleBp))).toEqual({
      code: 'SY_ERR_VALIDATION',
      message: `cannot set a shadow: service fraud-scorer got shadow sample ${sampleBp} bp, outside 1..10000`,
    });
  });

  test('the bounds 1 and 10000 bp are accepted', () => {
    expect(accept(idle(), shadowOf('v2', 1)).shadow?.sampleBp).toBe(1);
    expect(accept(idle(), shadowOf('v2', 10_000)).shadow?.sampleBp).toBe(10_000);
  });

  test('stop clears the shadow; without one it is refused', () => {
    const shadowed = accept(idle(), shadowOf('v2', 1_000));
    expect(accept(shadowed, { type: 'shadow-stop' }).shadow).toBeNull();
    expect(refusalOf(idle(), { type: 'shadow-stop' })).toEqual({ code: 'SY_ERR_NOT_FOUND', message: 'cannot stop the shadow: service fraud-scorer has no shadow' });
  });

  test('a shadow does not change the weight, the phase or the routing salt', () => {
    const canary = accept(idle(CANARY), { type: 'start', candidate: 'v2' });
    const shadowed = accept(canary, shadowOf('v3', 1_000), T0 + 2_000);
    expect(shadowed).toMatchObject({ weightBp: canary.weightBp, phase: canary.phase, salt: canary.salt, weightSince: canary.weightSince, stepIndex: 0 });
  });
});

describe('shadow steps', () => {
  test('start of a plan opening with a shadow step: progressing at weight 0 with the candidate shadowed', () => {
    const started = accept(idle(), { type: 'start', candidate: 'v2' }, T0 + 7);
    expect(started).toMatchObject({ phase: 'progressing', candidate: 'v2', weightBp: 0, stepIndex: 0 });
    expect(started.shadow).toEqual({ version: 'v2', sampleBp: 100, salt: 'fraud-scorer:shadow', since: T0 + 7 });
  });

  test('advance through the shadow steps widens the sample, then the first weighted step ends the shadow', () => {
    const started = accept(idle(), { type: 'start', candidate: 'v2' }, T0 + 7);
    const wider = accept(started, { type: 'advance' }, T0 + 70_000);
    expect(wider).toMatchObject({ stepIndex: 1, weightBp: 0 });
    expect(wider.shadow).toMatchObject({ version: 'v2', sampleBp: 1_000, since: T0 + 7 });
    const live = accept(wider, { type: 'advance' }, T0 + 140_000);
    expect(live).toMatchObject({ stepIndex: 2, weightBp: 500, shadow: null });
  });

  test('a standing shadow of another version is replaced by the candidate on a shadow step', () => {
    const standing = accept(idle(), shadowOf('v3', 500));
    expect(accept(standing, { type: 'start', candidate: 'v2' }).shadow?.version).toBe('v2');
  });

  test('a standing shadow survives a start without shadow steps, unless it is the new candidate', () => {
    const standing = accept(idle(CANARY), shadowOf('v3', 500));
    expect(accept(standing, { type: 'start', candidate: 'v2' }).shadow?.version).toBe('v3');
    expect(accept(standing, { type: 'start', candidate: 'v3' }).shadow).toBeNull();
    expect(accept(standing, { type: 'start', candidate: 'v3', strategy: 'blue-green' }).shadow?.version).toBe('v3');
  });

  test('rollback and promote end the shadow of their candidate, not of another version', () => {
    const started = accept(idle(), { type: 'start', candidate: 'v2' });
    expect(accept(started, { type: 'rollback' }).shadow).toBeNull();
    expect(accept(started, { type: 'promote' })).toMatchObject({ stable: 'v2', shadow: null });
    const canary = accept(accept(idle(CANARY), { type: 'start', candidate: 'v2' }), shadowOf('v3', 100));
    expect(accept(canary, { type: 'rollback' }).shadow?.version).toBe('v3');
    expect(accept(canary, { type: 'promote' }).shadow?.version).toBe('v3');
  });

  test('a blue-green switch to the shadowed candidate ends its shadow; switching back to a shadowed colour does too', () => {
    const blueGreen = accept(accept(idle(CANARY), { type: 'start', candidate: 'v2', strategy: 'blue-green' }), shadowOf('v2', 1_000));
    expect(accept(blueGreen, { type: 'switch' })).toMatchObject({ weightBp: 10_000, shadow: null });
    const promoted = accept(accept(idle(CANARY), { type: 'start', candidate: 'v2' }), { type: 'promote' });
    const shadowOld = accept(promoted, shadowOf('v1', 1_000));
    expect(accept(shadowOld, { type: 'switch' })).toMatchObject({ stable: 'v1', shadow: null });
  });

  test('raising the weight of a shadowed candidate ends its shadow; a weight of 0 keeps it', () => {
    const started = accept(idle(), { type: 'start', candidate: 'v2' });
    expect(accept(started, { type: 'set-weight', weightBp: 0 }).shadow?.version).toBe('v2');
    expect(accept(started, { type: 'set-weight', weightBp: 100 }).shadow).toBeNull();
  });

  test('a rolled-back candidate may be shadowed again, with no traffic', () => {
    const rolled = accept(accept(idle(CANARY), { type: 'start', candidate: 'v2' }), { type: 'rollback' });
    expect(accept(rolled, shadowOf('v2', 500))).toMatchObject({ phase: 'rolled_back', weightBp: 0, shadow: { version: 'v2' } });
  });

  test.each<readonly [string, readonly Step[], string]>([
    ['a shadow step after a weighted one', [{ weightBp: 500, bakeMs: 1 }, { weightBp: 0, bakeMs: 1, shadowBp: 100 }, { weightBp: 1_000, bakeMs: 1 }], 'steps[1].shadow: shadow steps come before the first weighted step'],
    ['a plan ending in a shadow step', [{ weightBp: 0, bakeMs: 1, shadowBp: 100 }], 'steps: a weighted step must follow the shadow steps, or the last one would promote a version no client has used'],
    ['a step with a weight and a shadow', [{ weightBp: 500, bakeMs: 1, shadowBp: 100 }, { weightBp: 1_000, bakeMs: 1 }], 'steps[0].shadow: a step is either {weight, bake} or {shadow, bake}, not both'],
    ['a shadow sample out of range', [{ weightBp: 0, bakeMs: 1, shadowBp: 10_001 }, { weightBp: 1_000, bakeMs: 1 }], 'steps[0].shadow: must be a percent more than 0, at most 100, with at most two decimals'],
  ])('start with %s is refused', (_what, steps, problem) => {
    const refusal = refusalOf(idle(CANARY), { type: 'start', candidate: 'v2', steps });
    expect(refusal).toEqual({ code: 'SY_ERR_VALIDATION', message: `cannot start a rollout: service fraud-scorer got an invalid plan: ${problem}` });
  });
});

describe('stored documents', () => {
  test('a document written before shadows existed reads with no shadow', () => {
    const { shadow: _dropped, ...old } = idle();
    expect(parseStoredState(JSON.stringify(old)).shadow).toBeNull();
  });

  test('a configured standing shadow is in the initial state', () => {
    const state = initialState({ service: SERVICE, stable: 'v1', strategy: 'canary', steps: CANARY, now: T0, shadow: { version: 'v2', sampleBp: 10_000 } });
    expect(state.shadow).toEqual({ version: 'v2', sampleBp: 10_000, salt: 'fraud-scorer:shadow', since: T0 });
    expect(parseStoredState(JSON.stringify(state))).toEqual(state);
  });
});

describe('progression on a shadow step', () => {
  const started = () => accept(idle(), { type: 'start', candidate: 'v2' }, T0);
  const BAKED = T0 + 60_000;

  function shadowVerdict(result: ShadowVerdict['result'], drift: ShadowVerdict['drift'] = null, version = 'v2'): ShadowVerdict {
    return { version, result, reason: `shadow was ${result}`, checks: [], figures: {}, drift };
  }

  /** The live verdict is inconclusive: the candidate has no traffic on a shadow step. */
  function verdict(shadow?: ShadowVerdict | null): Verdict {
    return { result: 'inconclusive', reason: 'no candidate traffic', at: T0, hold: false, checks: [], figures: {}, ...(shadow === undefined ? {} : { shadow }) };
  }

  const drift = (flagged: boolean, rollback: boolean) => ({ flagged, rollback, reason: 'disagreement 12% > 5%', figures: { disagreement: 0.12 } });

  test('the shadow passing after the bake time advances; before it, nothing', () => {
    expect(decideProgression(started(), verdict(shadowVerdict('pass')), 0, BAKED - 1, LIMITS)).toBeNull();
    const next = decideProgression(started(), verdict(shadowVerdict('pass')), 0, BAKED, LIMITS);
    expect(next).toMatchObject({ command: { type: 'advance' }, reason: 'analysis: step 1 passed: shadow v2: shadow was pass' });
  });

  test('the shadow failing rolls back at once, naming the shadow', () => {
    const next = decideProgression(started(), verdict(shadowVerdict('fail')), 0, T0 + 1, LIMITS);
    expect(next?.command).toEqual({ type: 'rollback' });
    expect(next?.reason).toBe('analysis: shadow v2 failed against stable on the same requests: shadow was fail');
  });

  test('prediction drift with the rollback action rolls back, even while paused', () => {
    const paused = accept(started(), { type: 'pause' });
    const next = decideProgression(paused, verdict(shadowVerdict('pass', drift(true, true))), 0, BAKED, LIMITS);
    expect(next?.command).toEqual({ type: 'rollback' });
    expect(next?.reason).toContain('predictions drift');
  });

  test('flagged drift holds a passing shadow step and says why', () => {
    const v = verdict(shadowVerdict('pass', drift(true, false)));
    expect(decideProgression(started(), v, 0, BAKED * 2, LIMITS)).toBeNull();
    expect(decideProgression(started(), v, 10, BAKED * 2, LIMITS)).toBeNull();
    expect(shadowHoldReason(started(), v)).toContain('its predictions drift from stable');
    expect(shadowHoldReason(started(), verdict(shadowVerdict('pass')))).toBeNull();
  });

  test('with the flag action, flagged drift is only reported: a passing shadow step advances', () => {
    const v = verdict(shadowVerdict('pass', drift(true, false)));
    expect(shadowHoldReason(started(), v, 'flag')).toBeNull();
    expect(decideProgression(started(), v, 0, BAKED, { ...LIMITS, driftAction: 'flag' })?.command).toEqual({ type: 'advance' });
    expect(decideProgression(started(), v, 0, BAKED, { ...LIMITS, driftAction: 'hold' })).toBeNull();
  });

  test('no shadow verdict, or another version\'s, is inconclusive, never a pass', () => {
    for (const v of [verdict(), verdict(null), verdict(shadowVerdict('pass', null, 'v3'))]) {
      expect(decisiveResult(started(), v)).toBe('inconclusive');
      expect(decideProgression(started(), v, 0, BAKED, LIMITS)).toBeNull();
      expect(decideProgression(started(), v, 3, BAKED, LIMITS)?.command).toEqual({ type: 'pause' });
    }
  });

  test('the live verdict passing does not advance a shadow step', () => {
    const live: Verdict = { ...verdict(), result: 'pass' };
    expect(decideProgression(started(), live, 0, BAKED, LIMITS)).toBeNull();
  });

  test('outside a shadow step the shadow does not move the rollout', () => {
    const canary = accept(accept(idle(CANARY), { type: 'start', candidate: 'v2' }, T0), shadowOf('v3', 500), T0);
    const failingShadow: Verdict = { ...verdict(shadowVerdict('fail', drift(true, true), 'v3')), result: 'pass' };
    expect(decideProgression(canary, failingShadow, 0, BAKED, LIMITS)?.command).toEqual({ type: 'advance' });
    expect(decisiveResult(canary, failingShadow)).toBe('pass');
    expect(shadowHoldReason(canary, failingShadow)).toBeNull();
  });
});
