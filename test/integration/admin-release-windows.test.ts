import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AnalysisLoop } from '../../src/app/analysis-loop.js';
import { silentLogger } from '../../src/app/logger.js';
import { resolveAnalysisConfig } from '../../src/core/analysis/config.js';
import type { ArmWindow, WindowSlice } from '../../src/core/analysis/window.js';
import { ADMIN_CONFIG, START_MS, startAdmin, type AdminFixture, type CallResult } from '../helpers/admin-fixture.js';
import { refusalOf } from '../helpers/refusal.js';

/** Office hours in Paris, never on Friday afternoon; the same for the blue-green service. */
const WINDOWS = `
    releaseWindows:
      timeZone: Europe/Paris
      allow: [ { days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00" } ]
      block: [ { days: [fri], from: "12:00", to: "24:00" } ]`;
const CONFIG = ADMIN_CONFIG.replace('match: { pathPrefix: /fraud }', `match: { pathPrefix: /fraud }${WINDOWS}`).replace(
  'match: { pathPrefix: /rank }',
  `match: { pathPrefix: /rank }${WINDOWS}`,
);

const FRAUD = '/api/v1/services/fraud-scorer';
const RANKER = '/api/v1/services/ranker';
/** The fixture starts on Mon 2025-01-06 10:00 UTC, 11:00 in Paris: open. */
const SATURDAY = '2025-01-11T10:00:00Z';
/** Fri 2025-01-10 12:30 in Paris: inside office hours, but blocked. */
const FRIDAY_AFTERNOON = '2025-01-10T11:30:00Z';
const NEXT_OPEN = 'next window opens Mon 2025-01-13 09:00 Europe/Paris';

let fx: AdminFixture;

beforeEach(async () => {
  fx = await startAdmin({ config: CONFIG });
  expect(fx.clock.now()).toBe(START_MS);
});
afterEach(async () => {
  await fx.close();
});

function setClock(iso: string): void {
  fx.clock.advance(Date.parse(iso) - fx.clock.now());
}

function expectClosed(res: CallResult, detail: string): void {
  expect(res.status).toBe(409);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ code: 'SY_ERR_RELEASE_WINDOW_CLOSED', status: 409, timeZone: 'Europe/Paris', nextOpenAt: '2025-01-13T08:00:00.000Z' });
  expect(res.body.detail).toContain(detail);
  expect(res.body.detail).toContain(NEXT_OPEN);
  expect(res.body.detail).toContain('send force: true with a reason');
}

async function revision(service = 'fraud-scorer'): Promise<number> {
  return (await fx.commands.state(service)).revision;
}

async function lastAudit(service = 'fraud-scorer'): Promise<{ action: string; actor: string; reason: string | null }> {
  const res = await fx.call('GET', `/api/v1/audit?service=${service}&limit=1`);
  return res.body.entries[0];
}

describe('release windows on operator commands', () => {
  it('refuses a canary start outside the windows with 409 saying when the next window opens, and writes nothing', async () => {
    setClock(SATURDAY);
    const res = await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2' } });
    expectClosed(res, 'cannot start a rollout for service fraud-scorer: promotions are closed outside release windows (Europe/Paris)');
    expect(await revision()).toBe(1);
  });

  it('inside a window a start works; in the blocked Friday afternoon increases and promotion are refused, decreases, pause and rollback are not', async () => {
    expect((await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2' } })).status).toBe(200);
    setClock(FRIDAY_AFTERNOON);
    expectClosed(await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 50 } }), 'promotions are blocked during fri 12:00-24:00 (Europe/Paris)');
    expectClosed(await fx.call('POST', `${FRAUD}/promote`, { body: {} }), 'cannot promote for service fraud-scorer');
    expect(await revision()).toBe(2);

    expect((await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 1 } })).body).toMatchObject({ weight: 1, reason: null });
    expect((await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 1 } })).status).toBe(200);
    expect((await fx.call('POST', `${FRAUD}/pause`, { body: {} })).status).toBe(200);
    expect((await fx.call('POST', `${FRAUD}/resume`, { body: {} })).status).toBe(200);
    const rollback = await fx.call('POST', `${FRAUD}/rollback`, { body: { reason: 'candidate looks wrong' } });
    expect(rollback.body).toMatchObject({ phase: 'rolled_back', weight: 0, reason: 'candidate looks wrong' });
  });

  it('an illegal command gets its own refusal, not the window one', async () => {
    setClock(SATURDAY);
    const res = await fx.call('POST', `${FRAUD}/promote`, { body: {} });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('SY_ERR_ILLEGAL_TRANSITION');
  });

  it('force with a reason releases outside the windows, and the audit log and state say it was forced', async () => {
    expect((await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2' } })).status).toBe(200);
    setClock(SATURDAY);
    const forced = await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 50, force: true, reason: 'hotfix for incident 4711' } });
    expect(forced.status).toBe(200);
    expect(forced.body).toMatchObject({ weight: 50, reason: 'forced outside release window: hotfix for incident 4711' });
    expect(await lastAudit()).toMatchObject({ action: 'set-weight', actor: 'alice', reason: 'forced outside release window: hotfix for incident 4711' });

    const promoted = await fx.call('POST', `${FRAUD}/promote`, { body: { force: true, reason: 'the fix must ship tonight' } });
    expect(promoted.body).toMatchObject({ phase: 'promoted', stable: 'v2' });
    expect(await lastAudit()).toMatchObject({ action: 'promote', reason: 'forced outside release window: the fix must ship tonight' });
  });

  it('force inside a window, or on a command that needs no window, is recorded as an ordinary command', async () => {
    const start = await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2', force: true, reason: 'just in case' } });
    expect(start.body.reason).toBe('just in case');
    setClock(SATURDAY);
    await fx.call('POST', `${FRAUD}/rollback`, { body: { reason: 'not today', force: true } });
    expect(await lastAudit()).toMatchObject({ action: 'rollback', reason: 'not today' });
  });

  it('force without a reason is a 400 naming the field, and nothing is applied', async () => {
    expect((await fx.call('POST', `${FRAUD}/rollout`, { body: { candidate: 'v2' } })).status).toBe(200);
    setClock(SATURDAY);
    const missing = await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 50, force: true } });
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe('SY_ERR_VALIDATION');
    expect(missing.body.errors).toEqual([{ field: 'reason', message: 'required when force is true: say why the release window is overridden, it goes to the audit log' }]);
    const nullReason = await fx.call('POST', `${FRAUD}/promote`, { body: { force: true, reason: null } });
    expect(nullReason.body.detail).toContain('reason: required when force is true');
    const blank = await fx.call('POST', `${FRAUD}/promote`, { body: { force: true, reason: '   ' } });
    expect(blank.status).toBe(400);
    expect(blank.body.detail).toContain('reason: must not be empty');
    const notBoolean = await fx.call('POST', `${FRAUD}/weight`, { body: { weight: 50, force: 'yes', reason: 'x' } });
    expect(notBoolean.status).toBe(400);
    expect(notBoolean.body.detail).toContain('force: must be true or false');
    expect(await revision()).toBe(2);

    // The commands module holds the same rule for every caller, not only the API.
    const direct = await refusalOf(() => fx.commands.run('fraud-scorer', { type: 'promote' }, { actor: 'cli', force: true }));
    expect(direct.code).toBe('SY_ERR_VALIDATION');
    expect(direct.message).toContain('reason: required when force is true');
  });

  it('blue-green: the switch to the candidate waits for a window, the switch back does not', async () => {
    setClock(SATURDAY);
    // A blue-green start only warms the candidate (weight 0): allowed.
    expect((await fx.call('POST', `${RANKER}/rollout`, { body: { candidate: 'green' } })).body).toMatchObject({ weight: 0, phase: 'progressing' });
    expectClosed(await fx.call('POST', `${RANKER}/switch`, { body: {} }), 'cannot switch for service ranker');
    expect((await fx.call('POST', `${RANKER}/switch`, { body: { force: true, reason: 'green is the fix' } })).body.weight).toBe(100);
    expect((await fx.call('POST', `${RANKER}/switch`, { body: {} })).body.weight).toBe(0);
    expectClosed(await fx.call('POST', `${RANKER}/promote`, { body: {} }), 'cannot promote for service ranker');
    await fx.call('POST', `${RANKER}/promote`, { body: { force: true, reason: 'green is the fix' } });
    // After a promotion, switch swaps back to the previous colour: always allowed.
    expect((await fx.call('POST', `${RANKER}/switch`, { body: {} })).body).toMatchObject({ stable: 'blue', previous: 'green', phase: 'stable' });
  });

  it('rollbacks by the alert webhook and the analysis are never held; an analysis advance is refused like any other', async () => {
    await fx.commands.run('fraud-scorer', { type: 'start', candidate: 'v2' }, { actor: 'alice' });
    setClock(SATURDAY);
    const advance = await refusalOf(() => fx.commands.run('fraud-scorer', { type: 'advance' }, { actor: 'analysis', reason: 'analysis: step 1 passed' }));
    expect(advance.code).toBe('SY_ERR_RELEASE_WINDOW_CLOSED');
    expect(advance.status).toBe(409);
    const state = await fx.commands.run('fraud-scorer', { type: 'rollback' }, { actor: 'alertmanager', reason: 'alert CandidateErrorRatioHigh' });
    expect(state.phase).toBe('rolled_back');
  });
});

describe('the analysis loop outside the release windows', () => {
  const MINUTE = 60_000;
  /** Fri 2025-01-10 10:50 UTC, 11:50 in Paris: open for ten minutes more. */
  const START = Date.parse('2025-01-10T10:50:00Z');

  function arm(requests: number, errors: number): ArmWindow {
    return { requests, errors, failingKeys: errors, logSum: 0, logSqSum: 0, latency: {} };
  }

  /** One minute bucket per minute from START to 11:02, stable healthy, the candidate failing `candidateErrors` of 40. */
  async function traffic(candidateErrors: number): Promise<void> {
    const slices: WindowSlice[] = [];
    for (let b = START; b < START + 12 * MINUTE; b += MINUTE) {
      slices.push({ service: 'fraud-scorer', version: 'v1', bucketMs: b, arm: arm(200, 0) });
      slices.push({ service: 'fraud-scorer', version: 'v2', bucketMs: b, arm: arm(40, candidateErrors) });
    }
    await fx.store.addWindows(slices, 30 * 24 * 60 * MINUTE);
  }

  /** What the loop logged as warnings: a refused command would show here as a skipped round. */
  let warnings: string[] = [];

  function loop(): AnalysisLoop {
    warnings = [];
    return new AnalysisLoop({
      store: fx.store,
      commands: fx.commands,
      catalog: fx.catalog,
      clock: fx.clock,
      log: { ...silentLogger, warn: (obj, msg) => void warnings.push(`${msg}: ${JSON.stringify(obj)}`) },
      holder: 'test',
      intervalMs: 5_000,
      bucketMs: MINUTE,
      settleMs: 0,
      baselineMs: 10 * MINUTE,
      maxInconclusive: 1_000,
      enabledFor: (service) => service === 'fraud-scorer',
      configFor: () => resolveAnalysisConfig({ minCandidateRequests: 30, latencyEnabled: false, srmMinExpected: 1e9 }),
    });
  }

  async function startAtFridayNoon(): Promise<void> {
    fx.clock.advance(START - fx.clock.now());
    await fx.commands.run('fraud-scorer', { type: 'start', candidate: 'v2' }, { actor: 'alice' });
  }

  it('holds a passing, baked step outside the windows (no command, no pause) and advances in the next window', async () => {
    await startAtFridayNoon();
    await traffic(0);
    const analysis = loop();
    setClock('2025-01-10T11:02:00Z'); // 12:02 in Paris: blocked
    await analysis.tick();
    await analysis.tick();
    expect((await fx.store.getVerdict('fraud-scorer'))?.result).toBe('pass');
    expect(await fx.commands.state('fraud-scorer')).toMatchObject({ revision: 2, stepIndex: 0, phase: 'progressing' });
    expect(await lastAudit()).toMatchObject({ action: 'start' });
    // Not attempted and refused: attempted commands that fail make the round log a warning.
    expect(warnings).toEqual([]);

    setClock('2025-01-13T08:00:00Z'); // Monday 09:00 in Paris
    await analysis.tick();
    expect(await fx.commands.state('fraud-scorer')).toMatchObject({ revision: 3, stepIndex: 1, weightBp: 2_500 });
    expect(await lastAudit()).toMatchObject({ action: 'advance', actor: 'analysis' });
    expect(warnings).toEqual([]);
  });

  it('still rolls back a failing candidate outside the windows', async () => {
    await startAtFridayNoon();
    await traffic(20);
    setClock('2025-01-10T11:02:00Z');
    await loop().tick();
    expect(await fx.commands.state('fraud-scorer')).toMatchObject({ phase: 'rolled_back', weightBp: 0 });
    expect(await lastAudit()).toMatchObject({ action: 'rollback', actor: 'analysis' });
  });
});
