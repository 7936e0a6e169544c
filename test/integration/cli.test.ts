import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/run.js';
import { CONTROL_RULES } from '../../src/core/control-rules.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { cliAgainst, expectOneLine } from '../helpers/cli.js';
import { configYaml, READ_TOKEN, startTestGateway } from '../helpers/gateway.js';

/** The CLI against a real gateway, run in-process through its entry function. */

let gateway: Gateway;

beforeEach(async () => {
  // Nothing is proxied here, so the targets need not answer.
  gateway = await startTestGateway(configYaml({ v1: ['http://127.0.0.1:9'], v2: ['http://127.0.0.1:9'] }));
});
afterEach(async () => {
  await gateway.close();
});

const { cli, ok, json, expectUsageErrors } = cliAgainst(() => gateway.adminUrl);

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('status', () => {
  it('shows every service as a table, and the API JSON with --json', async () => {
    const out = await ok(['status']);
    expect(out.split('\n')[0]).toMatch(/^SERVICE\s+PHASE\s+STABLE\s+CANDIDATE\s+WEIGHT\s+STEP/);
    expect(out).toMatch(/fraud-scorer\s+stable\s+v1\s+-\s+0%/);
    const body = await json(['status']);
    expect(body.services[0]).toMatchObject({ service: 'fraud-scorer', stable: 'v1', candidate: null, weight: 0, revision: 1 });
  });

  it('shows one service in detail', async () => {
    await ok(['start', 'fraud-scorer', 'v2']);
    const out = await ok(['status', 'fraud-scorer']);
    expect(out).toMatch(/phase:\s+progressing/);
    expect(out).toMatch(/candidate:\s+v2/);
    expect(out).toMatch(/weight:\s+10%/);
    expect(out).toMatch(/step:\s+1\/2/);
    expect(out).toMatch(/steps:\s+10% for 1m, 50% for 1m/);
    expect((await json(['status', 'fraud-scorer'])).revision).toBe(2);
  });
});

describe('rollout commands', () => {
  it('starts a canary with the given steps and reason', async () => {
    const out = await ok(['start', 'fraud-scorer', 'v2', '--steps', '5:1m,25:2m,100:1m', '--reason', 'new model']);
    expect(out).toContain('fraud-scorer: start done; phase progressing, stable v1, candidate v2 at 5% (step 1/3), revision 2');
    const state = await json(['status', 'fraud-scorer']);
    expect(state.steps).toEqual([
      { weight: 5, bakeMs: 60_000 },
      { weight: 25, bakeMs: 120_000 },
      { weight: 100, bakeMs: 60_000 },
    ]);
  });

  it('starts a manual canary at --weight, shown as step "manual" with no steps', async () => {
    const out = await ok(['start', 'fraud-scorer', 'v2', '--weight', '2.5%', '--reason', 'by hand']);
    expect(out).toBe('fraud-scorer: start done; phase progressing, stable v1, candidate v2 at 2.5% (step manual), revision 2\n');
    expect(await json(['status', 'fraud-scorer'])).toMatchObject({ weightBp: 250, steps: [], manual: true });
    const detail = await ok(['status', 'fraud-scorer']);
    expect(detail).toMatch(/step:\s+manual\n/);
    expect(detail).toMatch(/steps:\s+none: a manual canary/);
    expect(await ok(['status'])).toMatch(/fraud-scorer\s+progressing\s+v1\s+v2\s+2\.5%\s+manual\s+canary/);
    expect(await ok(['audit', '--service', 'fraud-scorer', '--limit', '1'])).toContain(`\n  rule: ${CONTROL_RULES.manualCanary}\n`);
  });

  it('exits 1 with the gateway detail when --weight comes with --steps or blue-green', async () => {
    const withSteps = await cli(['start', 'fraud-scorer', 'v2', '--weight', '5', '--steps', '5:1m,100:1m']);
    expect(withSteps.code).toBe(EXIT.refused);
    expectOneLine(withSteps.err, /got both steps .* and a weight .*; give one \(SY_ERR_VALIDATION\)$/);
    const blueGreen = await cli(['start', 'fraud-scorer', 'v2', '--weight', '5', '--strategy', 'blue-green']);
    expect(blueGreen.code).toBe(EXIT.refused);
    expectOneLine(blueGreen.err, /got a weight for a blue-green rollout.*\(SY_ERR_VALIDATION\)$/);
    const outOfRange = await cli(['start', 'fraud-scorer', 'v2', '--weight', '100.001']);
    expect(outOfRange.code).toBe(EXIT.refused);
    expectOneLine(outOfRange.err, 'weight: must be a percent 0..100 with at most two decimals');
    expect((await json(['status', 'fraud-scorer'])).revision).toBe(1);
  });

  it('sets the weight, pauses, resumes and promotes', async () => {
    await ok(['start', 'fraud-scorer', 'v2']);
    expect(await ok(['weight', 'fraud-scorer', '25'])).toContain('candidate v2 at 25%');
    expect((await json(['weight', 'fraud-scorer', '30%', '--reason', 'more traffic'])).weight).toBe(30);
    expect(await ok(['pause', 'fraud-scorer', '--reason', 'lunch'])).toContain('phase paused');
    expect((await json(['resume', 'fraud-scorer'])).phase).toBe('progressing');
    const promoted = await json(['promote', 'fraud-scorer']);
    expect(promoted).toMatchObject({ stable: 'v2', candidate: null });
  });

  it('switches a blue-green rollout', async () => {
    expect((await json(['start', 'fraud-scorer', 'v2', '--strategy', 'blue-green'])).strategy).toBe('blue-green');
    expect(await ok(['switch', 'fraud-scorer', '--reason', 'green is warm'])).toContain('candidate v2 at 100%');
  });

  it('rolls back with a reason, and requires the reason', async () => {
    await ok(['start', 'fraud-scorer', 'v2']);
    const missing = await cli(['rollback', 'fraud-scorer']);
    expect(missing.code).toBe(EXIT.usage);
    expectOneLine(missing.err, "required option '--reason <text>' not specified");
    const out = await ok(['rollback', 'fraud-scorer', '--reason', 'p99 doubled']);
    expect(out).toContain('fraud-scorer: rollback done; phase rolled_back, stable v1');
    expect((await json(['status', 'fraud-scorer'])).reason).toBe('p99 doubled');
  });

  it('sends If-Match and reports a conflict as a refusal', async () => {
    await ok(['start', 'fraud-scorer', 'v2']);
    expect((await json(['weight', 'fraud-scorer', '20', '--if-match', '2'])).revision).toBe(3);
    const stale = await cli(['weight', 'fraud-scorer', '40', '--if-match', '2']);
    expect(stale.code).toBe(EXIT.refused);
    expectOneLine(stale.err, /revision/);
    expect((await json(['status', 'fraud-scorer'])).weight).toBe(20);
  });

  it('sends --force as force: true, which the gateway accepts only with a reason', async () => {
    await ok(['start', 'fraud-scorer', 'v2']);
    const bare = await cli(['--force', 'weight', 'fraud-scorer', '50']);
    expect(bare.code).toBe(EXIT.refused);
    expectOneLine(bare.err, 'reason: required when force is true');
    const forced = await json(['weight', 'fraud-scorer', '50', '--force', '--reason', 'incident 4711']);
    expect(forced.weight).toBe(50);
  });
});

describe('explain', () => {
  it('says which version a key gets and why', async () => {
    await ok(['start', 'fraud-scorer', 'v2']);
    const out = await ok(['explain', 'fraud-scorer', 'alice']);
    expect(out).toMatch(/key:\s+alice/);
    expect(out).toMatch(/version:\s+v[12]/);
    expect(out).toMatch(/why:\s+bucket \d+ (<|>=) weight 1000 bp/);
    const body = await json(['explain', 'fraud-scorer', 'alice']);
    expect(body).toMatchObject({ key: 'alice', reason: 'bucket', weightBp: 1000 });
  });
});

describe('overrides', () => {
  it('adds, lists and removes a pinned key', async () => {
    expect(await ok(['overrides', 'list', 'fraud-scorer'])).toBe('no overrides\n');
    const added = await ok(['overrides', 'add', 'fraud-scorer', 'alice', 'v2', '--reason', 'beta tester', '--ttl', '1d']);
    expect(added).toContain('fraud-scorer: pinned key alice -> v2');
    const list = await ok(['overrides', 'list', 'fraud-scorer']);
    expect(list).toMatch(/^KEY\s+VERSION\s+EXPIRES IN\s+AUTHOR\s+REASON/);
    expect(list).toMatch(/alice\s+v2\s+(1d|23h 59m)\s+ops\s+beta tester/);
    expect((await json(['overrides', 'list', 'fraud-scorer'])).overrides).toHaveLength(1);
    expect(await ok(['explain', 'fraud-scorer', 'alice'])).toMatch(/reason:\s+override/);
    expect((await json(['overrides', 'remove', 'fraud-scorer', 'alice'])).removed).toMatchObject({ key: 'alice', version: 'v2' });
    expect(await ok(['overrides', 'list', 'fraud-scorer'])).toBe('no overrides\n');
  });

  it('requires a reason for a pin and refuses an unknown version', async () => {
    expect((await cli(['overrides', 'add', 'fraud-scorer', 'alice', 'v2'])).code).toBe(EXIT.usage);
    const unknown = await cli(['overrides', 'add', 'fraud-scorer', 'alice', 'v9', '--reason', 'x']);
    expect(unknown.code).toBe(EXIT.refused);
    expectOneLine(unknown.err, 'v9');
  });
});

describe('audit', () => {
  it('lists operator actions newest first, filtered and limited', async () => {
    await ok(['start', 'fraud-scorer', 'v2']);
    await ok(['weight', 'fraud-scorer', '25']);
    await ok(['rollback', 'fraud-scorer', '--reason', 'p99 doubled']);
    const out = await ok(['audit', '--service', 'fraud-scorer']);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^AT\s+SERVICE\s+ACTION\s+ACTOR\s+REASON/);
    expect(lines[1]).toMatch(/fraud-scorer\s+rollback\s+ops\s+p99 doubled/);
    const body = await json(['audit', '--service', 'fraud-scorer', '--limit', '2']);
    expect(body.entries).toHaveLength(2);
    expect(body.entries[0]).toMatchObject({ action: 'rollback', reason: 'p99 doubled' });
    expect(await ok(['audit', '--limit', '2'])).toContain(`more: --before ${String(body.next)}`);
  });

  it('shows the rule an entry applied on the line below it: weight 0 pauses', async () => {
    await ok(['start', 'fraud-scorer', 'v2']);
    expect(await ok(['weight', 'fraud-scorer', '0', '--reason', 'stop traffic'])).toContain('phase paused');
    const lines = (await ok(['audit', '--service', 'fraud-scorer'])).trimEnd().split('\n');
    expect(lines[1]).toMatch(/fraud-scorer\s+set-weight\s+ops\s+stop traffic$/);
    expect(lines[2]).toBe(`  rule: ${CONTROL_RULES.weightZeroHolds}`);
    // The start used the config's steps: no rule, so the next line is the next entry.
    expect(lines[3]).toMatch(/fraud-scorer\s+start\s+ops\s+-$/);
    expect((await json(['audit', '--service', 'fraud-scorer', '--limit', '1'])).entries[0]).toMatchObject({ rule: CONTROL_RULES.weightZeroHolds, verdict: null });
  });
});

describe('failures and exit codes', () => {
  it('exits 1 with the gateway detail for an unknown service', async () => {
    for (const args of [['status', 'nope'], ['weight', 'nope', '10'], ['audit', '--service', 'nope']]) {
      const res = await cli(args);
      expect(res.code).toBe(EXIT.refused);
      expect(res.out).toBe('');
      expectOneLine(res.err, 'nope');
    }
  });

  it('exits 1 on a missing or read-only token (401, 403)', async () => {
    const missing = await cli(['status'], { SWITCHYARD_ADMIN_TOKEN: undefined });
    expect(missing.code).toBe(EXIT.refused);
    expectOneLine(missing.err, 'pass --token or set SWITCHYARD_ADMIN_TOKEN');
    const reader = await cli(['--token', READ_TOKEN, 'start', 'fraud-scorer', 'v2']);
    expect(reader.code).toBe(EXIT.refused);
    expectOneLine(reader.err, 'SY_ERR_FORBIDDEN');
    expect((await cli(['status', '--token', READ_TOKEN])).code).toBe(EXIT.ok);
  });

  it('exits 1 when the gateway refuses a value', async () => {
    const res = await cli(['weight', 'fraud-scorer', '150']);
    expect(res.code).toBe(EXIT.refused);
    expectOneLine(res.err, 'weight');
  });

  it('exits 3 when the gateway cannot be reached or fails', async () => {
    const port = await closedPort();
    const down = await cli(['status'], { SWITCHYARD_ADMIN_URL: `http://127.0.0.1:${port}` });
    expect(down.code).toBe(EXIT.unavailable);
    expectOneLine(down.err, `cannot reach the gateway at http://127.0.0.1:${port}: ECONNREFUSED`);
    const viaFlag = await cli(['status', '--admin-url', `http://127.0.0.1:${port}`], { SWITCHYARD_ADMIN_URL: gateway.adminUrl });
    expect(viaFlag.code).toBe(EXIT.unavailable);

    const failing: typeof fetch = async () =>
      new Response(JSON.stringify({ code: 'SY_ERR_STORE_UNAVAILABLE', status: 503, detail: 'store unreachable' }), {
        status: 503,
        headers: { 'content-type': 'application/problem+json' },
      });
    const unavailable = await cli(['status'], {}, failing);
    expect(unavailable.code).toBe(EXIT.unavailable);
    expectOneLine(unavailable.err, 'store unreachable (SY_ERR_STORE_UNAVAILABLE)');
  });

  it('exits 2 on usage errors without calling the gateway', async () => {
    const cases: [string[], string][] = [
      [['frobnicate'], "unknown command 'frobnicate'"],
      [['weight', 'fraud-scorer'], "missing required argument 'percent'"],
      [['weight', 'fraud-scorer', 'lots'], 'weight: must be a percent'],
      [['start', 'fraud-scorer', 'v2', '--strategy', 'yolo'], 'yolo'],
      [['start', 'fraud-scorer', 'v2', '--steps', '5:1m:3'], '--steps'],
      [['start', 'fraud-scorer', 'v2', '--weight', 'half'], '--weight: must be a percent'],
      [['start', 'fraud-scorer', 'v2', '--weight'], "option '--weight <percent>' argument missing"],
      [['status', '--bogus'], "unknown option '--bogus'"],
      [['serve', '--config', 'config/example.yaml', '--workers', '0'], 'not a number of workers (1..64)'],
      [['status', '--admin-url', 'localhost:8081'], '--admin-url'],
    ];
    await expectUsageErrors(cases);
  });

  it('prints help with exit 0', async () => {
    const res = await cli(['--help']);
    expect(res.code).toBe(EXIT.ok);
    for (const name of ['serve', 'demo', 'status', 'start', 'weight', 'rollback', 'explain', 'explain-verdict', 'overrides', 'audit']) expect(res.out).toContain(name);
  });
});
