import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { isSwitchyardError } from '../../src/core/errors.js';
import { MAX_STEPS, planProblems, toStep, toStepInput, type StepInput } from '../../src/core/plan.js';
import { initialState, type Step } from '../../src/core/rollout-state.js';
import { transition } from '../../src/core/transition.js';
import { parseInput, startBody } from '../../src/http/admin/schemas.js';

/** A step as an operator writes it, in the config file or a start body. */
type RawStep = { weight?: number; shadow?: number; bake?: string };

const SERVICE = 'fraud-scorer';

function configProblems(steps: readonly RawStep[]): string[] {
  const text = `services:\n  ${SERVICE}:\n    match: { pathPrefix: /fraud }\n    versions: { v1: { targets: ["http://127.0.0.1:9001"] }, v2: { targets: ["http://127.0.0.1:9002"] } }\n    rollout: { stable: v1, steps: ${JSON.stringify(steps)} }\n`;
  try {
    parseConfig(text, {});
  } catch (err) {
    if (isSwitchyardError(err)) return (err.details?.['problems'] as string[]).map(String);
    throw err;
  }
  return [];
}

function adminProblems(steps: readonly RawStep[]): string[] {
  try {
    parseInput(startBody, { candidate: 'v2', steps }, 'body');
  } catch (err) {
    if (isSwitchyardError(err)) return (err.details?.['errors'] as { field: string; message: string }[]).map((e) => `${e.field}: ${e.message}`);
    throw err;
  }
  return [];
}

/** The core's refusal of a start with these steps, written the way the transition takes them. */
function coreRefusal(steps: readonly Step[]): string | null {
  const state = initialState({ service: SERVICE, stable: 'v1', strategy: 'canary', steps: [], now: 0 });
  const result = transition(state, { type: 'start', candidate: 'v2', steps }, { versions: ['v1', 'v2'], now: 1, reason: null });
  return result.ok ? null : result.refusal.message;
}

const asStep = (raw: RawStep): Step =>
  raw.shadow === undefined ? { weightBp: (raw.weight ?? 0) * 100, bakeMs: 60_000 } : { weightBp: (raw.weight ?? 0) * 100, bakeMs: 60_000, shadowBp: raw.shadow * 100 };

const many = Array.from({ length: MAX_STEPS + 1 }, () => ({ weight: 100 }));

/** Plans every holder refuses, and the problems (field: message, relative to the plan) each names. */
const BAD_PLANS: ReadonlyArray<readonly [string, readonly RawStep[], readonly string[]]> = [
  ['a weight lower than the step before', [{ weight: 20 }, { weight: 10 }], ['steps[1].weight: step weights must not decrease (10% after 20%)']],
  ['a shadow step after a weighted one', [{ weight: 5 }, { shadow: 10 }, { weight: 50 }], ['steps[1].shadow: shadow steps come before the first weighted step']],
  [
    'a weight lower than the last weighted step, a shadow step between',
    [{ weight: 50 }, { shadow: 10 }, { weight: 20 }],
    ['steps[1].shadow: shadow steps come before the first weighted step', 'steps[2].weight: step weights must not decrease (20% after 50%)'],
  ],
  ['a plan ending in a shadow step', [{ shadow: 10 }], ['steps: a weighted step must follow the shadow steps, or the last one would promote a version no client has used']],
  ['a step with both a weight and a shadow', [{ weight: 10, shadow: 10 }, { weight: 50 }], ['steps[0].shadow: a step is either {weight, bake} or {shadow, bake}, not both']],
  ['more steps than a plan may have', many, [`steps: at most ${MAX_STEPS} steps`]],
];

describe('one plan rule set, one message, in the config, the admin API and the transition', () => {
  test.each(BAD_PLANS)('%s', (_what, steps, problems) => {
    expect(configProblems(steps)).toEqual(problems.map((p) => `services.${SERVICE}.rollout.${p}`));
    expect(adminProblems(steps)).toEqual(problems);
    expect(coreRefusal(steps.map(asStep))).toBe(`cannot start a rollout: service ${SERVICE} got an invalid plan: ${problems.join('; ')}`);
  });

  test('a step with neither weight nor shadow is refused by the config and the admin API alike', () => {
    expect(configProblems([{ bake: '1m' }])).toEqual([`services.${SERVICE}.rollout.steps[0]: give weight (live traffic) or shadow (mirrored traffic)`]);
    expect(adminProblems([{ bake: '1m' }])).toEqual(['steps[0]: give weight (live traffic) or shadow (mirrored traffic)']);
  });

  test('a bad step field is named by that field alone, the same in the config and the admin API', () => {
    const steps = [{ weight: 150 }, { shadow: 0 }, { weight: 5, bake: 'soon' }];
    const problems = [
      'steps[0].weight: must be a percent 0..100 with at most two decimals',
      'steps[1].shadow: must be a percent more than 0, at most 100, with at most two decimals',
      'steps[2].bake: must be a duration like 500ms, 30s, 5m, 1h or 7d (got "soon")',
    ];
    expect(configProblems(steps)).toEqual(problems.map((p) => `services.${SERVICE}.rollout.${p}`));
    expect(adminProblems(steps)).toEqual(problems);
  });

  test('no steps is a manual canary in the config; a command that gives steps gives at least one', () => {
    expect(configProblems([])).toEqual([]);
    const message = 'give at least one step, or leave steps out; to start a manual canary give a weight instead';
    expect(adminProblems([])).toEqual([`steps: ${message}`]);
    expect(coreRefusal([])).toBe(`cannot start a rollout: service ${SERVICE} got an invalid plan: steps: ${message}`);
  });

  test('a good plan passes everywhere: shadow steps first, weights never decreasing, equal weights allowed', () => {
    const steps = [{ shadow: 1 }, { shadow: 10 }, { weight: 5 }, { weight: 5 }, { weight: 100 }];
    expect(configProblems(steps)).toEqual([]);
    expect(adminProblems(steps)).toEqual([]);
    expect(coreRefusal(steps.map(asStep))).toBeNull();
  });
});

describe('planProblems', () => {
  test('reports a weight, shadow share or bake out of range in basis points and ms, by field, and orders only good weights', () => {
    const steps: StepInput[] = [
      { weightBp: 500, bakeMs: Number.NaN },
      { weightBp: 10_001, bakeMs: 0 },
      { weightBp: 12.5, bakeMs: -1 },
    ];
    expect(planProblems(steps, 'config')).toEqual([
      { path: ['steps', 0, 'bake'], message: 'must be a duration of 0 or more' },
      { path: ['steps', 1, 'weight'], message: 'must be a percent 0..100 with at most two decimals' },
      { path: ['steps', 2, 'weight'], message: 'must be a percent 0..100 with at most two decimals' },
      { path: ['steps', 2, 'bake'], message: 'must be a duration of 0 or more' },
    ]);
    expect(planProblems([{ shadowBp: 0, bakeMs: 0 }, { weightBp: 100, bakeMs: 0 }], 'config')).toEqual([
      { path: ['steps', 0, 'shadow'], message: 'must be a percent more than 0, at most 100, with at most two decimals' },
    ]);
  });

  test('a stored shadow step (weight 0 and a share) reads back as a shadow step, and one with a weight as both', () => {
    const shadow: Step = { weightBp: 0, bakeMs: 5, shadowBp: 100 };
    expect(toStepInput(shadow)).toEqual({ shadowBp: 100, bakeMs: 5 });
    expect(toStep(toStepInput(shadow))).toEqual(shadow);
    expect(toStepInput({ weightBp: 500, bakeMs: 5, shadowBp: 100 })).toEqual({ weightBp: 500, shadowBp: 100, bakeMs: 5 });
    expect(toStep({ weightBp: 500, bakeMs: 5 })).toEqual({ weightBp: 500, bakeMs: 5 });
  });
});
