import { describe, expect, it } from 'vitest';
import type { Transition } from '../../src/app/commands.js';
import { initialState } from '../../src/core/rollout-state.js';
import { releaseEvent } from '../../src/notifier/webhook-notifier.js';

const base = initialState({ service: 's', stable: 'v1', strategy: 'canary', steps: [], now: 0 });
const t = (action: Transition['action'], afterPhase = base.phase): Transition => ({
  service: 's',
  action,
  actor: 'analysis',
  reason: null,
  before: base,
  after: { ...base, phase: afterPhase },
  rule: null,
  verdict: null,
});

describe('which transitions are announced', () => {
  it('announces rollbacks, promotions (by command or after the last step) and step changes, nothing else', () => {
    expect(releaseEvent(t('rollback', 'rolled_back'))).toBe('rollback');
    expect(releaseEvent(t('promote', 'promoted'))).toBe('promotion');
    expect(releaseEvent(t('advance', 'promoted'))).toBe('promotion');
    expect(releaseEvent(t('advance', 'progressing'))).toBe('step');
    for (const quiet of ['start', 'set-weight', 'pause', 'resume', 'switch'] as const) expect(releaseEvent(t(quiet))).toBeNull();
  });
});
