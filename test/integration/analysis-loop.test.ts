import { afterEach, describe, expect, it } from 'vitest';
import { AnalysisLoop, type AnalysisLoopOptions } from '../../src/app/analysis-loop.js';
import { silentLogger } from '../../src/app/logger.js';
import { resolveAnalysisConfig, type AnalysisConfig } from '../../src/core/analysis/config.js';
import type { ArmWindow, WindowSlice } from '../../src/core/analysis/window.js';
import type { AuditEntry } from '../../src/core/audit.js';
import { CONTROL_RULES } from '../../src/core/control-rules.js';
import type { Hold, RolloutState, Verdict } from '../../src/core/rollout-state.js';
import { ADMIN_CONFIG, startAdmin, type AdminFixture } from '../helpers/admin-fixture.js';

/**
 * The analysis loop against the in-memory store with a driven clock: each
 * test writes analysis windows as replicas would, calls tick() as the timer
 * would, and looks at what an operator sees (state, audit log, verdict).
 */

const SERVICE = 'fraud-scorer';
const BUCKET_MS = 10_000;
const SECOND = 1000;
const MINUTE = 60_000;
/** fraud-scorer's plan in ADMIN_CONFIG: 5 % for 1 min, 25 % for 2 min, 100 % for 1 min. */
const ERRORS_ONLY = resolveAnalysisConfig({ minCandidateRequests: 30, latencyEnabled: false, srmMinExpected: 1e9 });

let fx: AdminFixture;
let closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of closers.reverse()) await close();
  closers = [];
});

async function fixture(config = ADMIN_CONFIG): Promise<AdminFixture> {
  fx = await startAdmin({ config });
  closers.push(() => fx.close());
  return fx;
}

function arm(requests: number, errors: number): ArmWindow {
  return { requests, errors, failingKeys: errors, logSum: 0, logSqSum: 0, latency: {} };
}

/**
 * 200 requests per 10-s bucket from `fromMs` for `durationMs`, split by `weightBp`
 * (or by `shareBp` when the split is off), the candidate failing `errorRate` of its requests.
 */
async function traffic(o: { fromMs: number; durationMs: number; weightBp: number; errorRate?: number; shareBp?: number; service?: string }): Promise<void> {
  const slices: WindowSlice[] = [];
  const candidate = Math.round((200 * (o.shareBp ?? o.weightBp)) / 10_000);
  for (let b = o.fromMs; b < o.fromMs + o.durationMs; b += BUCKET_MS) {
    const service = o.service ?? SERVICE;
    slices.push({ service, version: 'v1', bucketMs: b, arm: arm(200 - candidate, 1) });
    if (candidate > 0) slices.push({ service, version: 'v2', bucketMs: b, arm: arm(candidate, Math.round(candidate * (o.errorRate ?? 0))) });
  }
  await fx.store.addWindows(slices, 30 * 24 * 60 * MINUTE);
}

interface LoopProbe {
  readonly loop: AnalysisLoop;
  readonly warnings: string[];
  readonly holds: Array<Hold | null>;
  readonly errors: string[];
  readonly rounds: Array<{ services: number; failed: number }>;
}

function loopOf(overrides: Partial<AnalysisLoopOptions> = {}, config: AnalysisConfig = ERRORS_ONLY): LoopProbe {
  const probe: LoopProbe = { loop: undefined as unknown as AnalysisLoop, warnings: [], holds: [], errors: [], rounds: [] };
  const loop = new AnalysisLoop({
    store: fx.store,
    commands: fx.commands,
    catalog: fx.catalog,
    clock: fx.clock,
    log: { ...silentLogger, warn: (obj, msg) => void probe.warnings.push(`${msg}: ${JSON.stringify(obj)}`) },
    holder: 'test',
    intervalMs: 5_000,
    bucketMs: BUCKET_MS,
    settleMs: 0,
    baselineMs: 10 * MINUTE,
    maxInconclusive: 1_000,
    enabledFor: (service) => service === SERVICE,
    configFor: () => config,
    onHold: (_service, hold) => void probe.holds.push(hold),
    onError: (service, err) => void probe.errors.push(`${service}: ${err.message}`),
    onRound: (round) => void probe.rounds.push({ services: round.services, failed: round.failed }),
    ...overrides,
  });
  return { ...probe, loop };
}

/** Ticks every `everyMs` until `untilMs` (inclusive), as the timer would. */
async function tickUntil(probe: LoopProbe, untilMs: number, everyMs = 5 * SECOND): Promise<void> {
  while (fx.clock.now() + everyMs <= untilMs) {
    fx.clock.advance(everyMs);
    await probe.loop.tick();
  }
}

async function state(): Promise<RolloutState> {
  return fx.commands.state(SERVICE);
}

async function audit(): Promise<AuditEntry[]> {
  return (await fx.store.readAudit({ services: [SERVICE], limit: 100 })).reverse();
}

async function start(command: { weightBp?: number } = {}): Promise<number> {
  await fx.commands.run(SERVICE, { type: 'start', candidate: 'v2', ...command }, { actor: 'alice' });
  return fx.clock.now();
}

describe('humans win: the rules between operators and the loop', () => {
  it("an operator's weight of 0 pauses the rollout and the loop never raises it; a new weight resumes it", async () => {
    await fixture();
    const t0 = await start();
    await traffic({ fromMs: t0, durationMs: 2 * MINUTE, weightBp: 500 });
    fx.clock.advance(2 * MINUTE);
    await fx.commands.run(SERVICE, { type: 'set-weight', weightBp: 0 }, { actor: 'alice', reason: 'looks odd' });
    const probe = loopOf();
    await traffic({ fromMs: t0 + 2 * MINUTE, durationMs: 10 * MINUTE, weightBp: 0 });
    await tickUntil(probe, t0 + 12 * MINUTE);
    expect(await state()).toMatchObject({ phase: 'paused', weightBp: 0, stepIndex: 0 });
    expect((await audit()).map((e) => [e.action, e.actor, e.rule ?? null])).toEqual([
      ['init', 'config', null],
      ['start', 'alice', null],
      ['set-weight', 'alice', CONTROL_RULES.weightZeroHolds],
    ]);
    await fx.commands.run(SERVICE, { type: 'set-weight', weightBp: 500 }, { actor: 'alice' });
    expect(await state()).toMatchObject({ phase: 'progressing', weightBp: 500 });
    expect((await audit()).at(-1)?.rule).toBe(CONTROL_RULES.weightResumes);
  });

  it("an operator's weight restarts the step's bake: the loop advances only on traffic at the new weight", async () => {
    await fixture();
    const t0 = await start();
    // Step 1 baked and clean at 5 %, but the loop has not looked yet when the operator moves to 10 %.
    await traffic({ fromMs: t0, durationMs: 2 * MINUTE, weightBp: 500 });
    fx.clock.advance(2 * MINUTE);
    await fx.commands.run(SERVICE, { type: 'set-weight', weightBp: 1000 }, { actor: 'alice' });
    const changed = fx.clock.now();
    await traffic({ fromMs: changed, durationMs: 2 * MINUTE, weightBp: 1000 });
    const probe = loopOf();
    await tickUntil(probe, changed + 55 * SECOND);
    expect(await state()).toMatchObject({ stepIndex: 0, weightBp: 1000, phase: 'progressing' });
    await tickUntil(probe, changed + 65 * SECOND);
    expect(await state()).toMatchObject({ stepIndex: 1, weightBp: 2500 });
    const advance = (await audit()).at(-1);
    expect(advance).toMatchObject({ action: 'advance', actor: 'analysis', rule: CONTROL_RULES.judgedAdvance });
    expect(advance?.verdict?.result).toBe('pass');
    expect(probe.warnings).toEqual([]);
  });

  it("the loop's move is void when an operator wrote while it was judging: it judges again next round", async () => {
    await fixture();
    const t0 = await start();
    await traffic({ fromMs: t0, durationMs: 2 * MINUTE, weightBp: 500 });
    fx.clock.advance(2 * MINUTE);
    let interfered = false;
    const putVerdict = fx.store.putVerdict.bind(fx.store);
    // The operator's write lands between the loop's read of the state and its advance.
    fx.store.putVerdict = async (service: string, verdict: Verdict) => {
      await putVerdict(service, verdict);
      if (interfered) return;
      interfered = true;
      await fx.commands.run(SERVICE, { type: 'set-weight', weightBp: 300 }, { actor: 'alice' });
    };
    const probe = loopOf();
    await probe.loop.tick();
    expect(await state()).toMatchObject({ stepIndex: 0, weightBp: 300 });
    expect((await audit()).filter((e) => e.actor === 'analysis')).toEqual([]);
    expect(probe.warnings).toEqual([]);
    expect(probe.errors).toEqual([]);
    expect(probe.rounds).toEqual([{ services: 1, failed: 0 }]);
  });

  it('a failing verdict rolls back a paused rollout too, and says by which rule', async () => {
    await fixture();
    const t0 = await start();
    await fx.commands.run(SERVICE, { type: 'pause' }, { actor: 'alice' });
    await traffic({ fromMs: t0, durationMs: MINUTE, weightBp: 500, errorRate: 0.6 });
    fx.clock.advance(MINUTE);
    await loopOf().loop.tick();
    expect(await state()).toMatchObject({ phase: 'rolled_back' });
    expect((await audit()).at(-1)).toMatchObject({ action: 'rollback', actor: 'analysis', rule: CONTROL_RULES.failRollsBack });
  });
});

describe('inconclusive verdicts', () => {
  it('count towards a pause only once the bake time is over', async () => {
    await fixture();
    const t0 = await start();
    // The candidate answers nobody: every verdict is inconclusive.
    await traffic({ fromMs: t0, durationMs: 3 * MINUTE, weightBp: 0 });
    const probe = loopOf({ maxInconclusive: 3 });
    // Twelve inconclusive rounds during the 1-min bake, then two after it: not yet.
    await tickUntil(probe, t0 + MINUTE + 5 * SECOND);
    expect(await state()).toMatchObject({ phase: 'progressing' });
    await tickUntil(probe, t0 + MINUTE + 10 * SECOND);
    const paused = await state();
    expect(paused.phase).toBe('paused');
    expect(paused.reason).toMatch(/^analysis: 3 inconclusive verdicts in a row after the bake time; a human should look/);
  });
});

describe('a manual canary', () => {
  it('is judged but never advanced by the analysis, and rolled back when it fails', async () => {
    await fixture();
    const t0 = await start({ weightBp: 500 });
    expect(await state()).toMatchObject({ steps: [], weightBp: 500, phase: 'progressing' });
    expect((await audit()).at(-1)?.rule).toBe(CONTROL_RULES.manualCanary);
    await traffic({ fromMs: t0, durationMs: 10 * MINUTE, weightBp: 500 });
    const probe = loopOf({ maxInconclusive: 2 });
    await tickUntil(probe, t0 + 10 * MINUTE, 30 * SECOND);
    expect(await state()).toMatchObject({ steps: [], weightBp: 500, phase: 'progressing', revision: 2 });
    expect((await fx.store.getVerdict(SERVICE))?.result).toBe('pass');
    await traffic({ fromMs: t0 + 10 * MINUTE, durationMs: MINUTE, weightBp: 500, errorRate: 0.5 });
    await tickUntil(probe, t0 + 11 * MINUTE, 30 * SECOND);
    expect(await state()).toMatchObject({ phase: 'rolled_back' });
  });
});

describe('holds', () => {
  it('a sample-ratio mismatch holds the rollout: announced once, kept since its first round, visible in the verdict, ended once', async () => {
    await fixture();
    const t0 = await start();
    const config = resolveAnalysisConfig({ minCandidateRequests: 30, latencyEnabled: false, srmWindowMs: MINUTE });
    // Weight 5 %, but the candidate gets 20 % of the requests: stale replicas or a broken split.
    await traffic({ fromMs: t0, durationMs: 2 * MINUTE, weightBp: 500, shareBp: 2000 });
    const probe = loopOf({}, config);
    await tickUntil(probe, t0 + 30 * SECOND);
    const firstHeld = (await fx.store.getVerdict(SERVICE))?.held;
    expect(firstHeld).toMatchObject({ kind: 'sample-ratio' });
    await tickUntil(probe, t0 + 2 * MINUTE);
    expect(probe.holds).toHaveLength(1);
    expect((await fx.store.getVerdict(SERVICE))?.held?.since).toBe(firstHeld?.since);
    expect(await state()).toMatchObject({ stepIndex: 0, phase: 'progressing' });
    // The split is right again: once the mismatched minute has left the check's window, the hold
    // ends, and the step, baked and passing, advances in that same round.
    await traffic({ fromMs: t0 + 2 * MINUTE, durationMs: 2 * MINUTE, weightBp: 500 });
    for (let i = 0; i < 24 && probe.holds.length < 2; i++) await tickUntil(probe, fx.clock.now() + 5 * SECOND);
    expect(probe.holds).toEqual([expect.objectContaining({ kind: 'sample-ratio', since: firstHeld?.since }), null]);
    expect(fx.clock.now()).toBeGreaterThan(t0 + 2 * MINUTE);
    expect((await fx.store.getVerdict(SERVICE))?.held).toBeNull();
    expect(await state()).toMatchObject({ stepIndex: 1, weightBp: 2500 });
  });
});

describe('the round', () => {
  const TWO_SERVICES = `${ADMIN_CONFIG}
  recommender:
    match: { pathPrefix: /recommend }
    versions:
      v1: { targets: ["http://127.0.0.1:9021"] }
      v2: { targets: ["http://127.0.0.1:9022"] }
    rollout: { stable: v1, steps: [ { weight: 10, bake: 1m } ] }
`;

  it('goes on past a service that cannot be judged: the other is judged, the failure logged and counted', async () => {
    await fixture(TWO_SERVICES);
    const t0 = await start();
    await fx.commands.run('recommender', { type: 'start', candidate: 'v2' }, { actor: 'alice' });
    await traffic({ fromMs: t0, durationMs: MINUTE, weightBp: 1000, errorRate: 0.6, service: 'recommender' });
    fx.clock.advance(MINUTE);
    const probe = loopOf({
      enabledFor: () => true,
      configFor: (service) => {
        if (service === SERVICE) throw new Error('bad analysis config for fraud-scorer');
        return ERRORS_ONLY;
      },
    });
    await probe.loop.tick();
    expect((await fx.commands.state('recommender')).phase).toBe('rolled_back');
    expect(probe.errors).toEqual(['fraud-scorer: bad analysis config for fraud-scorer']);
    expect(probe.rounds).toEqual([{ services: 3, failed: 1 }]);
    expect(probe.warnings.filter((w) => w.includes('fraud-scorer'))).toHaveLength(1);
  });

  it('renews the lease during a long round, and stops judging when another replica took it', async () => {
    await fixture();
    const names = Array.from({ length: 30 }, (_, i) => `svc-${i}`);
    const events: string[] = [];
    let calls = 0;
    const probe = loopOf({
      intervalMs: 1,
      catalog: Object.assign(Object.create(fx.catalog) as typeof fx.catalog, { names }),
      enabledFor: () => true,
      concurrency: 1,
      store: Object.assign(Object.create(fx.store) as typeof fx.store, {
        // The round's lease, two renewals, then another replica has it.
        acquireLease: async () => {
          const held = ++calls <= 3;
          events.push(held ? 'lease' : 'lost');
          return held;
        },
        getState: async () => {
          events.push('judge');
          // Longer than the 1 ms interval: every later service renews first.
          await new Promise((resolve) => setTimeout(resolve, 3));
          return null;
        },
      }),
    });
    await probe.loop.tick();
    expect(events.filter((e) => e === 'lease')).toHaveLength(3);
    expect(events.at(-1)).toBe('lost');
    expect(events.filter((e) => e === 'judge').length).toBeGreaterThanOrEqual(2);
    expect(probe.warnings.filter((w) => w.startsWith('analysis lease lost during a round'))).toHaveLength(1);
  });

  it('judges services a bounded number at a time', async () => {
    await fixture();
    const names = Array.from({ length: 40 }, (_, i) => `svc-${i}`);
    let inFlight = 0;
    let peak = 0;
    const probe = loopOf({
      catalog: Object.assign(Object.create(fx.catalog) as typeof fx.catalog, { names }),
      enabledFor: () => true,
      concurrency: 4,
      store: Object.assign(Object.create(fx.store) as typeof fx.store, {
        getState: async () => {
          inFlight += 1;
          peak = Math.max(peak, inFlight);
          await new Promise((resolve) => setImmediate(resolve));
          inFlight -= 1;
          return null;
        },
      }),
    });
    await probe.loop.tick();
    expect(peak).toBe(4);
    expect(probe.rounds).toEqual([{ services: 40, failed: 0 }]);
  });
});
