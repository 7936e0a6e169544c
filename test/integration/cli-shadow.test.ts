import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/run.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { cliAgainst, expectOneLine } from '../helpers/cli.js';
import { configYaml, READ_TOKEN, startTestGateway } from '../helpers/gateway.js';

/** `switchyard shadow` against a real gateway, run in-process through the CLI's entry function. */

let gateway: Gateway;

beforeEach(async () => {
  // Nothing is proxied here, so the targets need not answer.
  gateway = await startTestGateway(configYaml({ v1: ['http://127.0.0.1:9'], v2: ['http://127.0.0.1:9'], v3: ['http://127.0.0.1:9'] }));
});
afterEach(async () => {
  await gateway.close();
});

const { cli, ok, json, expectUsageErrors } = cliAgainst(() => gateway.adminUrl);

describe('switchyard shadow', () => {
  it('sets a shadow, shows it in status, and stops it, each audited with the reason', async () => {
    const set = await ok(['shadow', 'fraud-scorer', 'v2', '--percent', '10', '--reason', 'dark launch']);
    expect(set).toBe('fraud-scorer: shadow done; phase stable, stable v1, shadow v2 10%, revision 2\n');
    expect(await ok(['status'])).toMatch(/^SERVICE\s+PHASE\s+STABLE\s+CANDIDATE\s+WEIGHT\s+STEP\s+STRATEGY\s+REV\s+SHADOW\nfraud-scorer\s+stable\s+v1\s+-\s+0%\s+-\s+canary\s+2\s+v2 10%\n$/);
    expect(await ok(['status', 'fraud-scorer'])).toMatch(/shadow:\s+v2 on 10% of keys since \d{4}-\d\d-\d\dT/);
    const stopped = await json(['shadow', 'fraud-scorer', '--stop', '--reason', 'enough data']);
    expect(stopped).toMatchObject({ shadow: null, reason: 'enough data', revision: 3 });
    expect(await ok(['status', 'fraud-scorer'])).toMatch(/shadow:\s+-\n/);
    const audit = await json(['audit', '--service', 'fraud-scorer', '--limit', '2']);
    expect(audit.entries.map((e: { action: string; reason: string }) => `${e.action}: ${e.reason}`)).toEqual(['shadow-stop: enough data', 'shadow: dark launch']);
  });

  it('takes the percent with a % sign and decimals, and --if-match', async () => {
    expect((await json(['shadow', 'fraud-scorer', 'v2', '--percent', '12.5%'])).shadow).toMatchObject({ version: 'v2', percent: 12.5 });
    const stale = await cli(['shadow', 'fraud-scorer', 'v3', '--percent', '5', '--if-match', '1']);
    expect(stale.code).toBe(EXIT.refused);
    expectOneLine(stale.err, 'SY_ERR_STALE_REVISION');
    expect((await json(['shadow', 'fraud-scorer', '--stop', '--if-match', '2'])).shadow).toBeNull();
  });

  it('exits 1 with the gateway detail for an unknown version, stable, or no shadow to stop', async () => {
    const unknown = await cli(['shadow', 'fraud-scorer', 'v9', '--percent', '10']);
    expect(unknown.code).toBe(EXIT.refused);
    expectOneLine(unknown.err, 'has no version v9 (versions: v1, v2, v3) (SY_ERR_UNKNOWN_VERSION)');
    const stable = await cli(['shadow', 'fraud-scorer', 'v1', '--percent', '10']);
    expect(stable.code).toBe(EXIT.refused);
    expectOneLine(stable.err, 'shadowing stable compares it with itself (SY_ERR_SHADOW_CONFLICT)');
    const none = await cli(['shadow', 'fraud-scorer', '--stop']);
    expect(none.code).toBe(EXIT.refused);
    expectOneLine(none.err, 'has no shadow (SY_ERR_NOT_FOUND)');
    const outOfRange = await cli(['shadow', 'fraud-scorer', 'v2', '--percent', '0']);
    expect(outOfRange.code).toBe(EXIT.refused);
    expectOneLine(outOfRange.err, 'percent: must be a percent more than 0');
    const reader = await cli(['--token', READ_TOKEN, 'shadow', 'fraud-scorer', 'v2', '--percent', '10']);
    expect(reader.code).toBe(EXIT.refused);
    expectOneLine(reader.err, 'SY_ERR_FORBIDDEN');
  });

  it('exits 2 on usage errors without calling the gateway', async () => {
    const cases: [string[], string][] = [
      [['shadow', 'fraud-scorer'], 'give a version and --percent to shadow it, or --stop'],
      [['shadow', 'fraud-scorer', 'v2'], '--percent is required with a version'],
      [['shadow', 'fraud-scorer', 'v2', '--percent', 'lots'], '--percent: must be a percent'],
      [['shadow', 'fraud-scorer', 'v2', '--stop'], '--stop: give only the service'],
      [['shadow', 'fraud-scorer', '--stop', '--percent', '5'], '--stop: give only the service'],
      [['shadow'], "missing required argument 'service'"],
      [['start', 'fraud-scorer', 'v2', '--steps', 'shadow:x:1m,5:1m'], 'shadow: must be a percent'],
      [['start', 'fraud-scorer', 'v2', '--steps', 'shadow:10:1m:2,5:1m'], 'shadow:PERCENT:BAKE'],
    ];
    await expectUsageErrors(cases);
  });

  it('starts a rollout with shadow steps and shows them', async () => {
    const out = await ok(['start', 'fraud-scorer', 'v2', '--steps', 'shadow:10:5m,5:1m,100:1m']);
    expect(out).toBe('fraud-scorer: start done; phase progressing, stable v1, candidate v2 at 0% (step 1/3), shadow v2 10%, revision 2\n');
    expect(await ok(['status', 'fraud-scorer'])).toMatch(/steps:\s+shadow 10% for 5m, 5% for 1m, 100% for 1m/);
    // Raising the weight ends the candidate's shadow: from then on its answers are judged live.
    expect(await ok(['weight', 'fraud-scorer', '5'])).toBe('fraud-scorer: weight done; phase progressing, stable v1, candidate v2 at 5% (step 1/3), revision 3\n');
  });
});
