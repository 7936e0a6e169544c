import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Transition } from '../../src/app/commands.js';
import { silentLogger } from '../../src/app/logger.js';
import { CONTROL_RULES } from '../../src/core/control-rules.js';
import { initialState, type Hold, type RolloutState, type Verdict } from '../../src/core/rollout-state.js';
import { transition, type RolloutCommand } from '../../src/core/transition.js';
import { holdPayload, releaseEvent, transitionPayload } from '../../src/notifier/webhook-events.js';
import { WebhookNotifier } from '../../src/notifier/webhook-notifier.js';

const T0 = Date.UTC(2025, 0, 6, 10, 0, 0);
const VERSIONS = ['v1', 'v2'];
const STEPS = [{ weightBp: 1000, bakeMs: 60_000 }, { weightBp: 5000, bakeMs: 60_000 }];
const idle = initialState({ service: 's', stable: 'v1', strategy: 'canary', steps: STEPS, now: T0 });

const verdict: Verdict = { result: 'inconclusive', reason: 'too few requests', at: T0, hold: false, checks: [], figures: {} };

/** Runs `command` through the real transition function, as RolloutCommands would report it after the write. */
function run(before: RolloutState, command: RolloutCommand, actor = 'ops', extra: { reason?: string; verdict?: Verdict } = {}): Transition {
  const result = transition(before, command, { versions: VERSIONS, now: before.updatedAt + 1000, reason: extra.reason ?? null });
  if (!result.ok) throw new Error(result.refusal.message);
  return { service: 's', action: command.type, actor, reason: extra.reason ?? null, before, after: result.state, rule: result.rule, verdict: extra.verdict ?? null };
}

const started = run(idle, { type: 'start', candidate: 'v2' }).after;
const paused = run(started, { type: 'pause' }).after;
const pausedAtZero = run(started, { type: 'set-weight', weightBp: 0 }).after;

describe('which transitions are announced', () => {
  it('announces rollbacks, promotions (by command or after the last step) and step changes', () => {
    expect(releaseEvent(run(started, { type: 'rollback' }))).toBe('rollback');
    expect(releaseEvent(run(started, { type: 'promote' }))).toBe('promotion');
    expect(releaseEvent(run(started, { type: 'advance' }, 'analysis'))).toBe('step');
    const last = run(started, { type: 'advance' }, 'analysis').after;
    expect(releaseEvent(run(last, { type: 'advance' }, 'analysis'))).toBe('promotion');
  });

  it("announces a pause however it came: an operator's pause, an operator's weight 0, the analysis pausing", () => {
    expect(releaseEvent(run(started, { type: 'pause' }))).toBe('pause');
    const zero = run(started, { type: 'set-weight', weightBp: 0 });
    expect(releaseEvent(zero)).toBe('pause');
    expect(zero.rule).toBe(CONTROL_RULES.weightZeroHolds);
    expect(releaseEvent(run(started, { type: 'pause' }, 'analysis', { verdict }))).toBe('pause');
  });

  it('announces a resume when a paused rollout progresses again: resume, or a weight above 0 after weight 0', () => {
    expect(releaseEvent(run(paused, { type: 'resume' }))).toBe('resume');
    expect(releaseEvent(run(pausedAtZero, { type: 'resume' }))).toBe('resume');
    const weighted = run(pausedAtZero, { type: 'set-weight', weightBp: 500 });
    expect(releaseEvent(weighted)).toBe('resume');
    expect(weighted.rule).toBe(CONTROL_RULES.weightResumes);
  });

  it('does not announce a pause twice, and a rollback or promotion of a paused rollout is that, not a resume', () => {
    expect(releaseEvent(run(paused, { type: 'set-weight', weightBp: 0 }))).toBeNull();
    expect(releaseEvent(run(paused, { type: 'set-weight', weightBp: 2000 }))).toBeNull();
    expect(releaseEvent(run(paused, { type: 'rollback' }))).toBe('rollback');
    expect(releaseEvent(run(pausedAtZero, { type: 'promote' }))).toBe('promotion');
  });

  it('keeps quiet about starts, weights of a running rollout, shadows and switches', () => {
    expect(releaseEvent(run(idle, { type: 'start', candidate: 'v2' }))).toBeNull();
    expect(releaseEvent(run(started, { type: 'set-weight', weightBp: 2000 }))).toBeNull();
    expect(releaseEvent(run(idle, { type: 'shadow', version: 'v2', sampleBp: 1000 }))).toBeNull();
    const blueGreen = run(idle, { type: 'start', candidate: 'v2', strategy: 'blue-green' }).after;
    expect(releaseEvent(run(blueGreen, { type: 'switch' }))).toBeNull();
  });
});

describe('what a post says', () => {
  it('a pause by weight 0 names the operator, the rule and the state after it', () => {
    const zero = run(started, { type: 'set-weight', weightBp: 0 }, 'alice', { reason: 'latency looks odd' });
    expect(transitionPayload('pause', zero)).toEqual({
      event: 'pause',
      service: 's',
      actor: 'alice',
      reason: 'latency looks odd',
      at: new Date(T0 + 2000).toISOString(),
      stable: 'v1',
      candidate: 'v2',
      weight: 0,
      step: 0,
      phase: 'paused',
      revision: 3,
      rule: CONTROL_RULES.weightZeroHolds,
      verdict: null,
    });
  });

  it('a pause by the analysis carries the verdict behind it', () => {
    const reason = 'analysis: 60 inconclusive verdicts in a row after the bake time; a human should look';
    const body = transitionPayload('pause', run(started, { type: 'pause' }, 'analysis', { reason, verdict }));
    expect(body).toMatchObject({ event: 'pause', actor: 'analysis', reason, weight: 10, phase: 'paused', rule: null, verdict });
  });

  it('a promotion names the version it promoted, which the state after it no longer holds as candidate', () => {
    expect(transitionPayload('promotion', run(started, { type: 'promote' }))).toMatchObject({ stable: 'v2', candidate: 'v2', phase: 'promoted' });
  });

  it('a hold says what holds the rollout and since when, with the rollout it holds', () => {
    const hold: Hold = { kind: 'shadow-drift', reason: "shadow v2 held on step 1: its predictions drift from stable's", since: T0 + 90_000 };
    expect(holdPayload('s', hold, started)).toEqual({
      event: 'hold',
      service: 's',
      actor: 'analysis',
      reason: hold.reason,
      at: new Date(T0 + 90_000).toISOString(),
      stable: 'v1',
      candidate: 'v2',
      weight: 10,
      step: 0,
      phase: 'progressing',
      revision: 2,
      rule: null,
      verdict: null,
      hold: { kind: 'shadow-drift', reason: hold.reason, since: new Date(T0 + 90_000).toISOString() },
    });
  });
});

describe('WebhookNotifier', () => {
  afterEach(() => vi.restoreAllMocks());

  /** Delivery starts synchronously, so the posts of a call are seen as soon as it returns. */
  function posts(): Array<{ url: string; body: Record<string, unknown> }> {
    const seen: Array<{ url: string; body: Record<string, unknown> }> = [];
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (url, init) => {
      seen.push({ url: String(url), body: JSON.parse(String(init?.body)) as Record<string, unknown> });
      return new Response(null, { status: 204 });
    });
    return seen;
  }

  const targets = [{ url: 'http://hooks.test/a', headers: {} }, { url: 'http://hooks.test/b', headers: {} }];

  it('posts a pause and a hold once to every target, and nothing for a quiet transition', () => {
    const seen = posts();
    const notifier = new WebhookNotifier({ targets, log: silentLogger });
    notifier.notify(run(started, { type: 'set-weight', weightBp: 2000 }));
    expect(seen).toEqual([]);
    notifier.notify(run(started, { type: 'pause' }));
    expect(seen.map((p) => [p.url, p.body.event])).toEqual([['http://hooks.test/a', 'pause'], ['http://hooks.test/b', 'pause']]);
    notifier.notifyHold('s', { kind: 'sample-ratio', reason: 'candidate got 2% of requests at weight 10%', since: T0 }, started);
    expect(seen.map((p) => p.body.event)).toEqual(['pause', 'pause', 'hold', 'hold']);
    expect(seen[2]!.body.hold).toEqual({ kind: 'sample-ratio', reason: 'candidate got 2% of requests at weight 10%', since: new Date(T0).toISOString() });
  });
});
