import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { assign } from '../../src/core/assignment.js';
import { ERRORS, type ErrorCode } from '../../src/core/errors.js';
import { initialState, isActive, PHASES, STRATEGIES, type RolloutState, type Step, type Strategy } from '../../src/core/rollout-state.js';
import { CONTROL_RULES } from '../../src/core/control-rules.js';
import { deepFreeze } from '../../src/core/deep-freeze.js';
import { transition, type Refusal, type RolloutCommand, type TransitionContext } from '../../src/core/transition.js';

const SERVICE = 'fraud-scorer';
const VERSIONS = ['v1', 'v2', 'v3'] as const;
const STEPS: readonly Step[] = [
  { weightBp: 500, bakeMs: 60_000 },
  { weightBp: 2_500, bakeMs: 120_000 },
  { weightBp: 5_000, bakeMs: 120_000 },
  { weightBp: 10_000, bakeMs: 60_000 },
];
const T0 = 1_700_000_000_000;
const NOW = T0 + 3_600_000;

function ctx(now: number, reason: string | null = null): TransitionContext {
  return { versions: VERSIONS, now, reason };
}

/** Applies a command that must be accepted. */
function accept(state: RolloutState, command: RolloutCommand, now: number, reason: string | null = null): RolloutState {
  const result = transition(state, command, ctx(now, reason));
  if (!result.ok) throw new Error(`expected ${command.type} to be accepted, got: ${result.refusal.message}`);
  return result.state;
}

/** Applies a command that must be refused. */
function refusalOf(state: RolloutState, command: RolloutCommand): Refusal {
  const result = transition(state, command, ctx(NOW, 'because'));
  if (result.ok) throw new Error(`expected ${command.type} to be refused from ${state.phase}`);
  return result.refusal;
}

const START_V2: RolloutCommand = { type: 'start', candidate: 'v2' };
const START_V3: RolloutCommand = { type: 'start', candidate: 'v3' };
const START_V2_BLUE_GREEN: RolloutCommand = { type: 'start', candidate: 'v2', strategy: 'blue-green' };
const SET_WEIGHT: RolloutCommand = { type: 'set-weight', weightBp: 2_000 };
const PAUSE: RolloutCommand = { type: 'pause' };
const RESUME: RolloutCommand = { type: 'resume' };
const PROMOTE: RolloutCommand = { type: 'promote' };
const ROLLBACK: RolloutCommand = { type: 'rollback' };
const SWITCH: RolloutCommand = { type: 'switch' };

const initial = deepFreeze(initialState({ service: SERVICE, stable: 'v1', strategy: 'canary', steps: STEPS, now: T0 }));
const canaryProgressing = deepFreeze(accept(initial, START_V2, T0 + 1_000));
const canaryPaused = deepFreeze(accept(canaryProgressing, PAUSE, T0 + 2_000));
const promoted = deepFreeze(accept(canaryProgressing, PROMOTE, T0 + 3_000));
const rolledBack = deepFreeze(accept(canaryProgressing, ROLLBACK, T0 + 4_000));
const blueGreenProgressing = deepFreeze(accept(initial, START_V2_BLUE_GREEN, T0 + 5_000));
const blueGreenPaused = deepFreeze(accept(blueGreenProgressing, PAUSE, T0 + 6_000));

const STATES: Record<string, RolloutState> = {
  'stable (no candidate yet)': initial,
  'canary progressing': canaryProgressing,
  'canary paused': canaryPaused,
  promoted,
  rolled_back: rolledBack,
  'blue-green progressing': blueGreenProgressing,
  'blue-green paused': blueGreenPaused,
};

type Expectation =
  /** `rule`: the control rule the transition names for the audit log, when it applies one. */
  | { readonly accepted: Partial<RolloutState>; readonly rule?: string }
  | { readonly code: ErrorCode; readonly message: string };

const ILLEGAL = 'SY_ERR_ILLEGAL_TRANSITION' as const;
const msg = (verb: string, why: string) => `cannot ${verb}: service fraud-scorer ${why}`;

/** Every command from every phase: what the state becomes, or the exact refusal. */
const MATRIX: ReadonlyArray<readonly [string, RolloutCommand, Expectation]> = [
  // stable, never released
  ['stable (no candidate yet)', START_V2, {
    accepted: { candidate: 'v2', phase: 'progressing', weightBp: 500, stepIndex: 0, strategy: 'canary', salt: 'fraud-scorer:v2', startedAt: NOW, stepStartedAt: NOW, lastVerdict: null },
  }],
  ['stable (no candidate yet)', SET_WEIGHT, { code: ILLEGAL, message: 'cannot set weight: service fraud-scorer has no candidate' }],
  ['stable (no candidate yet)', PAUSE, { code: ILLEGAL, message: msg('pause', 'is stable, not progressing') }],
  ['stable (no candidate yet)', RESUME, { code: ILLEGAL, message: msg('resume', 'is stable, not paused') }],
  ['stable (no candidate yet)', PROMOTE, { code: ILLEGAL, message: msg('promote', 'has no rollout in progress') }],
  ['stable (no candidate yet)', ROLLBACK, { code: ILLEGAL, message: msg('roll back', 'has no rollout in progress') }],
  ['stable (no candidate yet)', SWITCH, { code: ILLEGAL, message: msg('switch', 'has no previous version to switch back to') }],
  // canary progressing
  ['canary progressing', START_V3, { code: ILLEGAL, message: msg('start a rollout', 'already has v2 progressing; promote or roll it back first') }],
  ['canary progressing', START_V2, { code: ILLEGAL, message: msg('start a rollout', 'already has v2 progressing; promote or roll it back first') }],
  ['canary progressing', SET_WEIGHT, { accepted: { weightBp: 2_000, stepStartedAt: NOW }, rule: CONTROL_RULES.operatorWeight }],
  ['canary progressing', PAUSE, { accepted: { phase: 'paused' } }],
  ['canary progressing', RESUME, { code: ILLEGAL, message: msg('resume', 'is progressing, not paused') }],
  ['canary progressing', PROMOTE, { accepted: { stable: 'v2', previous: 'v1', candidate: null, weightBp: 0, phase: 'promoted' } }],
  ['canary progressing', ROLLBACK, { accepted: { weightBp: 0, phase: 'rolled_back' } }],
  ['canary progressing', SWITCH, { code: ILLEGAL, message: msg('switch', 'runs a canary; set the weight or promote instead') }],
  // canary paused
  ['canary paused', START_V3, { code: ILLEGAL, message: msg('start a rollout', 'already has v2 paused; promote or roll it back first') }],
  ['canary paused', SET_WEIGHT, { accepted: { weightBp: 2_000, stepStartedAt: NOW }, rule: CONTROL_RULES.operatorWeight }],
  ['canary paused', PAUSE, { code: ILLEGAL, message: msg('pause', 'is paused, not progressing') }],
  ['canary paused', RESUME, { accepted: { phase: 'progressing', stepStartedAt: NOW } }],
  ['canary paused', PROMOTE, { accepted: { stable: 'v2', previous: 'v1', candidate: null, weightBp: 0, phase: 'promoted' } }],
  ['canary paused', ROLLBACK, { accepted: { weightBp: 0, phase: 'rolled_back' } }],
  ['canary paused', SWITCH, { code: ILLEGAL, message: msg('switch', 'runs a canary; set the weight or promote instead') }],
  // promoted: v2 is stable, v1 kept warm
  ['promoted', START_V3, {
    accepted: { candidate: 'v3', phase: 'progressing', weightBp: 500, stepIndex: 0, salt: 'fraud-scorer:v3', startedAt: NOW, stepStartedAt: NOW },
  }],
  ['promoted', START_V2, { code: ILLEGAL, message: msg('start a rollout', 'already serves v2 as stable') }],
  ['promoted', SET_WEIGHT, { code: ILLEGAL, message: 'cannot set weight: service fraud-scorer has no candidate' }],
  ['promoted', PAUSE, { code: ILLEGAL, message: msg('pause', 'is promoted, not progressing') }],
  ['promoted', RESUME, { code: ILLEGAL, message: msg('resume', 'is promoted, not paused') }],
  ['promoted', PROMOTE, { code: ILLEGAL, message: msg('promote', 'has no rollout in progress') }],
  ['promoted', ROLLBACK, { code: ILLEGAL, message: msg('roll back', 'has no rollout in progress') }],
  ['promoted', SWITCH, { accepted: { stable: 'v1', previous: 'v2', weightBp: 0, phase: 'stable' } }],
  // rolled back: v2 recorded as the candidate, no traffic
  ['rolled_back', START_V2, {
    accepted: { candidate: 'v2', phase: 'progressing', weightBp: 500, stepIndex: 0, salt: 'fraud-scorer:v2', startedAt: NOW, stepStartedAt: NOW },
  }],
  ['rolled_back', SET_WEIGHT, { code: ILLEGAL, message: 'cannot set weight: service fraud-scorer has no rollout in progress (rolled_back)' }],
  ['rolled_back', PAUSE, { code: ILLEGAL, message: msg('pause', 'is rolled_back, not progressing') }],
  ['rolled_back', RESUME, { code: ILLEGAL, message: msg('resume', 'is rolled_back, not paused') }],
  ['rolled_back', PROMOTE, { code: ILLEGAL, message: msg('promote', 'has no rollout in progress') }],
  ['rolled_back', ROLLBACK, { code: ILLEGAL, message: msg('roll back', 'has no rollout in progress') }],
  ['rolled_back', SWITCH, { code: ILLEGAL, message: msg('switch', 'has no previous version to switch back to') }],
  // blue-green progressing (weight 0: candidate warm, no traffic)
  ['blue-green progressing', START_V3, { code: ILLEGAL, message: msg('start a rollout', 'already has v2 progressing; promote or roll it back first') }],
  ['blue-green progressing', SET_WEIGHT, {
    code: ILLEGAL,
    message: msg('set weight', 'runs blue-green, which moves traffic with switch, not weights'),
  }],
  ['blue-green progressing', PAUSE, { accepted: { phase: 'paused' } }],
  ['blue-green progressing', RESUME, { code: ILLEGAL, message: msg('resume', 'is progressing, not paused') }],
  ['blue-green progressing', PROMOTE, { accepted: { stable: 'v2', previous: 'v1', candidate: null, weightBp: 0, phase: 'promoted' } }],
  ['blue-green progressing', ROLLBACK, { accepted: { weightBp: 0, phase: 'rolled_back' } }],
  ['blue-green progressing', SWITCH, { accepted: { weightBp: 10_000 } }],
  // blue-green paused
  ['blue-green paused', START_V3, { code: ILLEGAL, message: msg('start a rollout', 'already has v2 paused; promote or roll it back first') }],
  ['blue-green paused', SET_WEIGHT, {
    code: ILLEGAL,
    message: msg('set weight', 'runs blue-green, which moves traffic with switch, not weights'),
  }],
  ['blue-green paused', PAUSE, { code: ILLEGAL, message: msg('pause', 'is paused, not progressing') }],
  ['blue-green paused', RESUME, { accepted: { phase: 'progressing', stepStartedAt: NOW } }],
  ['blue-green paused', PROMOTE, { accepted: { stable: 'v2', previous: 'v1', candidate: null, weightBp: 0, phase: 'promoted' } }],
  ['blue-green paused', ROLLBACK, { accepted: { weightBp: 0, phase: 'rolled_back' } }],
  ['blue-green paused', SWITCH, { accepted: { weightBp: 10_000 } }],
];

describe('transition: every command from every phase', () => {
  test('the matrix covers all 7 commands from each of the 7 starting states', () => {
    const seen = new Set(MATRIX.map(([from, command]) => `${from}/${command.type}`));
    for (const from of Object.keys(STATES)) {
      for (const type of ['start', 'set-weight', 'pause', 'resume', 'promote', 'rollback', 'switch']) {
        expect(seen.has(`${from}/${type}`), `${from}/${type}`).toBe(true);
      }
    }
  });

  test.each(MATRIX.map(([from, command, expected]) => [
    'accepted' in expected ? 'accepts' : 'refuses',
    command.type === 'start' ? `start ${command.candidate}` : command.type,
    from,
    command,
    expected,
  ] as const))('%s %s from %s', (_verdict, _label, from, command, expected) => {
    const before = STATES[from];
    if (before === undefined) throw new Error(`no state ${from}`);
    const result = transition(before, command, ctx(NOW, 'operator said so'));
    if ('accepted' in expected) {
      // Exactly the named fields change, plus revision +1, updatedAt = now and the reason;
      // weightSince moves when the weight (or the rollout) changes.
      const after = { ...before, ...expected.accepted };
      const weightSince = after.weightBp === before.weightBp && command.type !== 'start' ? before.weightSince : NOW;
      expect(result).toEqual({
        ok: true,
        state: { ...after, revision: before.revision + 1, updatedAt: NOW, reason: 'operator said so', weightSince },
        rule: expected.rule ?? null,
      });
    } else {
      expect(result).toEqual({ ok: false, refusal: { code: expected.code, message: expected.message } });
    }
  });
});

describe('transition: refusals', () => {
  test('start of a version the service does not have is refused with SY_ERR_UNKNOWN_VERSION listing the versions', () => {
    expect(refusalOf(initial, { type: 'start', candidate: 'v9' })).toEqual({
      code: 'SY_ERR_UNKNOWN_VERSION',
      message: 'cannot start a rollout: service fraud-scorer has no version v9 (versions: v1, v2, v3)',
    });
  });

  test('start of the stable version as the candidate is refused', () => {
    expect(refusalOf(initial, { type: 'start', candidate: 'v1' })).toEqual({
      code: ILLEGAL,
      message: 'cannot start a rollout: service fraud-scorer already serves v1 as stable',
    });
  });

  test('a start with both steps and a weight is refused: a plan or a manual canary, not both', () => {
    expect(refusalOf(initial, { type: 'start', candidate: 'v2', steps: STEPS, weightBp: 500 })).toEqual({
      code: 'SY_ERR_VALIDATION',
      message: 'cannot start a rollout: service fraud-scorer got both steps (a plan the analysis advances) and a weight (a manual canary); give one',
    });
  });

  test('a weight for a blue-green start is refused: blue-green moves with switch', () => {
    expect(refusalOf(initial, { type: 'start', candidate: 'v2', strategy: 'blue-green', weightBp: 500 })).toEqual({
      code: 'SY_ERR_VALIDATION',
      message: 'cannot start a rollout: service fraud-scorer got a weight for a blue-green rollout, which starts at weight 0 and moves with switch',
    });
  });

  test.each([-1, 10_001, 2.5])('a manual canary start at weight %s bp is refused as out of range', (weightBp) => {
    expect(refusalOf(initial, { type: 'start', candidate: 'v2', weightBp })).toEqual({
      code: 'SY_ERR_VALIDATION',
      message: `cannot start a rollout: service fraud-scorer got weight ${weightBp} bp, outside 0..10000`,
    });
  });

  test.each([-1, 10_001, 12.5, Number.NaN, Number.POSITIVE_INFINITY, -0.5])('set weight %s bp is refused as out of range', (weightBp) => {
    expect(refusalOf(canaryProgressing, { type: 'set-weight', weightBp })).toEqual({
      code: 'SY_ERR_VALIDATION',
      message: `cannot set weight: service fraud-scorer got weight ${weightBp} bp, outside 0..10000`,
    });
  });

  test('the weight bounds 0 and 10000 bp themselves are accepted', () => {
    expect(accept(canaryProgressing, { type: 'set-weight', weightBp: 0 }, NOW).weightBp).toBe(0);
    expect(accept(canaryProgressing, { type: 'set-weight', weightBp: 10_000 }, NOW).weightBp).toBe(10_000);
  });

  test('set weight with no candidate is refused before the weight is even looked at', () => {
    expect(refusalOf(initial, { type: 'set-weight', weightBp: 99_999 })).toEqual({
      code: ILLEGAL,
      message: 'cannot set weight: service fraud-scorer has no candidate',
    });
  });

  // A start carries its own plan; a plan the config would refuse must not slip in through the API.
  test.each<readonly [string, readonly Step[]]>([
    ['a weight above 10000 bp', [{ weightBp: 10_001, bakeMs: 60_000 }]],
    ['a negative weight', [{ weightBp: -500, bakeMs: 60_000 }]],
    ['a fractional weight', [{ weightBp: 12.5, bakeMs: 60_000 }]],
    ['decreasing weights', [{ weightBp: 5_000, bakeMs: 60_000 }, { weightBp: 2_500, bakeMs: 60_000 }]],
    ['a negative bake time', [{ weightBp: 500, bakeMs: -1 }]],
  ])('start with steps that have %s is refused', (_what, steps) => {
    const result = transition(initial, { type: 'start', candidate: 'v2', steps }, ctx(NOW, null));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.refusal.code).toBe('SY_ERR_VALIDATION');
  });
});

describe('transition: the rules between operators and the loop', () => {
  const result = (state: RolloutState, command: RolloutCommand, now = NOW) => {
    const r = transition(state, command, ctx(now));
    if (!r.ok) throw new Error(r.refusal.message);
    return r;
  };

  test('weight 0 pauses a progressing canary, and the audit names the rule', () => {
    expect(result(canaryProgressing, { type: 'set-weight', weightBp: 0 })).toMatchObject({
      state: { phase: 'paused', weightBp: 0, stepStartedAt: NOW },
      rule: CONTROL_RULES.weightZeroHolds,
    });
  });

  test('a weight above 0 resumes a rollout paused at 0; a pause at a weight above 0 stays a pause', () => {
    const held = result(canaryProgressing, { type: 'set-weight', weightBp: 0 }).state;
    expect(result(held, { type: 'set-weight', weightBp: 300 }, NOW + 1)).toMatchObject({
      state: { phase: 'progressing', weightBp: 300, stepStartedAt: NOW + 1 },
      rule: CONTROL_RULES.weightResumes,
    });
    expect(result(canaryPaused, { type: 'set-weight', weightBp: 300 })).toMatchObject({ state: { phase: 'paused' }, rule: CONTROL_RULES.operatorWeight });
  });

  test("resume gives a rollout paused at weight 0 its step's weight back; at another weight it keeps it", () => {
    const held = result(canaryProgressing, { type: 'set-weight', weightBp: 0 }).state;
    expect(result(held, RESUME, NOW + 5)).toMatchObject({
      state: { phase: 'progressing', weightBp: 500, stepStartedAt: NOW + 5 },
      rule: CONTROL_RULES.resumeRestoresStep,
    });
    expect(result(canaryPaused, RESUME)).toMatchObject({ state: { phase: 'progressing', weightBp: 500 }, rule: null });
  });

  test('a manual canary paused at 0 resumes at 0: it has no step weight to go back to', () => {
    const manual = result(initial, { type: 'start', candidate: 'v2', weightBp: 0 }).state;
    const held = result(manual, { type: 'set-weight', weightBp: 0 }).state;
    expect(result(held, RESUME)).toMatchObject({ state: { phase: 'progressing', weightBp: 0 }, rule: null });
  });

  test('the analysis cannot advance a manual canary', () => {
    const manual = result(initial, { type: 'start', candidate: 'v2', weightBp: 500 }).state;
    expect(refusalOf(manual, { type: 'advance' })).toEqual({
      code: ILLEGAL,
      message: 'cannot advance: service fraud-scorer runs a manual canary (no steps); operators set its weight and promote it',
    });
  });

  test("the loop's next step after an operator's lower weight never moves a user back", () => {
    const lowered = result(canaryProgressing, { type: 'set-weight', weightBp: 300 }).state;
    const advanced = result(lowered, { type: 'advance' }).state;
    expect(advanced.weightBp).toBe(2_500);
    let onCandidate = 0;
    for (let key = 0; key < 2000; key++) {
      if (assign(lowered, new Map(), `user-${key}`, NOW).version !== 'v2') continue;
      onCandidate += 1;
      expect(assign(advanced, new Map(), `user-${key}`, NOW).version).toBe('v2');
    }
    expect(onCandidate).toBeGreaterThan(30);
  });
});

describe('transition: canary and blue-green stories', () => {
  test('start takes its strategy, steps and salt from the command when given', () => {
    const steps: Step[] = [{ weightBp: 100, bakeMs: 1_000 }, { weightBp: 10_000, bakeMs: 1_000 }];
    const started = accept(initial, { type: 'start', candidate: 'v3', steps, salt: 'experiment-42' }, NOW);
    expect(started).toMatchObject({ candidate: 'v3', steps, weightBp: 100, salt: 'experiment-42', strategy: 'canary' });
  });

  test("a blue-green service's configured steps play no part in a blue-green start, and are the plan of a canary start on it", () => {
    const blueGreen = initialState({ service: SERVICE, stable: 'v1', strategy: 'blue-green', steps: STEPS, now: T0 });
    expect(accept(blueGreen, START_V2, NOW)).toMatchObject({ strategy: 'blue-green', weightBp: 0 });
    expect(transition(accept(blueGreen, START_V2, NOW), { type: 'advance' }, ctx(NOW, null)).ok).toBe(false);
    expect(accept(blueGreen, { type: 'start', candidate: 'v2', strategy: 'canary' }, NOW)).toMatchObject({ strategy: 'canary', steps: STEPS, weightBp: STEPS[0]?.weightBp, stepIndex: 0 });
  });

  test('a canary with no steps in the command or the config starts as a manual canary at weight 0', () => {
    const noSteps = initialState({ service: SERVICE, stable: 'v1', strategy: 'canary', steps: [], now: T0 });
    const result = transition(noSteps, START_V2, ctx(NOW));
    expect(result).toMatchObject({ ok: true, state: { phase: 'progressing', candidate: 'v2', steps: [], weightBp: 0 }, rule: CONTROL_RULES.manualCanary });
  });

  test('a start that gives an empty list of steps is refused: it would silently drop the configured plan', () => {
    expect(refusalOf(initial, { type: 'start', candidate: 'v2', steps: [] })).toEqual({
      code: 'SY_ERR_VALIDATION',
      message: 'cannot start a rollout: service fraud-scorer got an invalid plan: steps: give at least one step, or leave steps out; to start a manual canary give a weight instead',
    });
  });

  test('a weight in the start command starts a manual canary at that weight, whatever steps the config has', () => {
    expect(accept(initial, { type: 'start', candidate: 'v2', weightBp: 500 }, NOW)).toMatchObject({ steps: [], weightBp: 500, stepIndex: 0 });
  });

  test('start clears the last verdict of the previous rollout', () => {
    const withVerdict: RolloutState = {
      ...rolledBack,
      lastVerdict: { result: 'fail', reason: 'error rate 4% vs 0.5%', at: T0, hold: false, checks: [], figures: { candidateErrorRate: 0.04 } },
    };
    expect(accept(withVerdict, START_V2, NOW).lastVerdict).toBeNull();
  });

  test('a rolled-back candidate can be started again with the same command, and sees the same users', () => {
    const started = accept(initial, START_V2, T0 + 1);
    const raised = accept(started, { type: 'set-weight', weightBp: 2_500 }, T0 + 2);
    const rolled = accept(raised, ROLLBACK, T0 + 3, 'p99 latency regressed');
    expect(rolled).toMatchObject({ phase: 'rolled_back', weightBp: 0, stable: 'v1', candidate: 'v2', reason: 'p99 latency regressed' });
    const retried = accept(rolled, START_V2, T0 + 4);
    expect(retried).toMatchObject({ phase: 'progressing', candidate: 'v2', stable: 'v1', weightBp: 500, stepIndex: 0, startedAt: T0 + 4 });
    expect(retried.revision).toBe(initial.revision + 4);
    expect(retried.salt).toBe(started.salt);
  });

  test('a rollback sends every user back to stable at once, whatever the weight was', () => {
    const full = accept(canaryProgressing, { type: 'set-weight', weightBp: 10_000 }, NOW);
    const rolled = accept(full, ROLLBACK, NOW + 1, 'alert fired');
    for (let i = 0; i < 1_000; i++) {
      expect(assign(rolled, new Map(), `user-${i}`, NOW + 1).version).toBe('v1');
    }
  });

  test('blue-green: start keeps the candidate at weight 0, switch flips 0 <-> 10000, promote keeps the old colour warm, switch swaps back', () => {
    const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);
    const versionsSeen = (state: RolloutState) => new Set(users.map((u) => assign(state, new Map(), u, NOW).version));

    const started = accept(initial, START_V2_BLUE_GREEN, T0 + 1);
    expect(started).toMatchObject({ strategy: 'blue-green', candidate: 'v2', weightBp: 0, phase: 'progressing' });
    expect(versionsSeen(started)).toEqual(new Set(['v1']));

    const switched = accept(started, SWITCH, T0 + 2);
    expect(switched.weightBp).toBe(10_000);
    expect(versionsSeen(switched)).toEqual(new Set(['v2']));

    const back = accept(switched, SWITCH, T0 + 3);
    expect(back.weightBp).toBe(0);
    expect(versionsSeen(back)).toEqual(new Set(['v1']));

    const again = accept(back, SWITCH, T0 + 4);
    const done = accept(again, PROMOTE, T0 + 5);
    expect(done).toMatchObject({ stable: 'v2', previous: 'v1', candidate: null, weightBp: 0, phase: 'promoted' });
    expect(versionsSeen(done)).toEqual(new Set(['v2']));

    const swappedBack = accept(done, SWITCH, T0 + 6, 'v2 misbehaves after promotion');
    expect(swappedBack).toMatchObject({ stable: 'v1', previous: 'v2', weightBp: 0, phase: 'stable' });
    expect(versionsSeen(swappedBack)).toEqual(new Set(['v1']));

    const swappedForward = accept(swappedBack, SWITCH, T0 + 7);
    expect(swappedForward).toMatchObject({ stable: 'v2', previous: 'v1' });
    expect(swappedForward.revision).toBe(initial.revision + 7);
  });
});

describe('transition: properties over random command sequences', () => {
  const weight = fc.integer({ min: 0, max: 10_000 });
  const bakeMs = fc.integer({ min: 0, max: 3_600_000 });
  const shadowSteps = fc.array(fc.record({ weightBp: fc.constant(0), bakeMs, shadowBp: fc.integer({ min: 1, max: 10_000 }) }), { maxLength: 2 });
  const steps = fc
    .tuple(shadowSteps, fc.array(fc.record({ weightBp: weight, bakeMs }), { maxLength: 5 }))
    .map(([dark, list]): Step[] => [...dark, ...[...list].sort((a, b) => a.weightBp - b.weightBp)]);
  const strategy = fc.constantFrom<Strategy>(...STRATEGIES);
  const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

  const command: fc.Arbitrary<RolloutCommand> = fc.oneof(
    fc
      .tuple(fc.constantFrom('v1', 'v2', 'v3', 'v9'), optional(strategy), optional(steps), optional(fc.string({ maxLength: 12 })))
      .map(([candidate, strat, plan, salt]): RolloutCommand => ({ type: 'start', candidate, strategy: strat, steps: plan, salt })),
    fc
      .oneof(weight, fc.integer({ min: -20_000, max: 20_000 }), fc.double())
      .map((weightBp): RolloutCommand => ({ type: 'set-weight', weightBp })),
    fc.constantFrom<RolloutCommand>(PAUSE, RESUME, PROMOTE, ROLLBACK, SWITCH, { type: 'shadow-stop' }, { type: 'advance' }),
    fc
      .tuple(fc.constantFrom('v1', 'v2', 'v3', 'v9'), fc.oneof(weight, fc.integer({ min: -5, max: 20_000 })))
      .map(([version, sampleBp]): RolloutCommand => ({ type: 'shadow', version, sampleBp })),
  );

  const scenario = fc.record({
    stable: fc.constantFrom(...VERSIONS),
    strategy,
    steps,
    startRevision: fc.integer({ min: 1, max: 1_000_000 }),
    moves: fc.array(fc.tuple(command, fc.integer({ min: 0, max: 600_000 }), optional(fc.string({ maxLength: 8 }))), { maxLength: 40 }),
  });

  test('revisions never skip or repeat, the weight stays in 0..10000, rollback always means weight 0 and rolled_back', () => {
    fc.assert(
      fc.property(scenario, ({ stable, strategy: strat, steps: plan, startRevision, moves }) => {
        let state: RolloutState = deepFreeze({
          ...initialState({ service: SERVICE, stable, strategy: strat, steps: plan, now: T0 }),
          revision: startRevision,
        });
        let now = T0;
        const acceptedRevisions: number[] = [];
        for (const [cmd, dt, reason] of moves) {
          now += dt;
          const snapshot = JSON.stringify(state);
          const result = transition(state, cmd, ctx(now, reason ?? null));
          expect(JSON.stringify(state)).toBe(snapshot);
          if (!result.ok) {
            expect(Object.keys(ERRORS)).toContain(result.refusal.code);
            expect(result.refusal.message).toMatch(/^cannot [a-z ]+: service fraud-scorer /);
            continue;
          }
          const next = result.state;
          expect(next.revision).toBe(state.revision + 1);
          expect(next.updatedAt).toBe(now);
          expect(next.reason).toBe(reason ?? null);
          if (cmd.type === 'rollback') {
            expect(next.weightBp).toBe(0);
            expect(next.phase).toBe('rolled_back');
            expect(next.stable).toBe(state.stable);
          }
          acceptedRevisions.push(next.revision);
          state = deepFreeze(next);

          expect(Number.isInteger(state.weightBp)).toBe(true);
          expect(state.weightBp).toBeGreaterThanOrEqual(0);
          expect(state.weightBp).toBeLessThanOrEqual(10_000);
          expect(PHASES).toContain(state.phase);
          expect(VERSIONS).toContain(state.stable);
          if (isActive(state)) {
            expect(state.candidate).not.toBeNull();
            expect(VERSIONS).toContain(state.candidate);
            expect(state.candidate).not.toBe(state.stable);
          } else {
            // Outside an active rollout the candidate receives no traffic.
            expect(state.weightBp).toBe(0);
          }
          // A shadow is never stable, and never a candidate that already answers live traffic.
          if (state.shadow !== null) {
            expect(state.shadow.version).not.toBe(state.stable);
            expect(VERSIONS).toContain(state.shadow.version);
            if (isActive(state) && state.shadow.version === state.candidate) expect(state.weightBp).toBe(0);
            expect(state.shadow.sampleBp).toBeGreaterThanOrEqual(1);
            expect(state.shadow.sampleBp).toBeLessThanOrEqual(10_000);
            expect(state.shadow.salt).toBe(`${SERVICE}:shadow`);
          }
        }
        expect(acceptedRevisions).toEqual(acceptedRevisions.map((_, i) => startRevision + i + 1));
        expect(state.revision).toBe(startRevision + acceptedRevisions.length);
      }),
      { numRuns: 500 },
    );
  });
});
