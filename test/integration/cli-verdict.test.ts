import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/run.js';
import type { Verdict, VerdictCheck } from '../../src/core/rollout-state.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { cliAgainst, expectOneLine } from '../helpers/cli.js';
import { configYaml, startTestGateway } from '../helpers/gateway.js';

/**
 * `switchyard explain-verdict` and `status --checks` against a real gateway. The
 * analysis interval is an hour, so only the rounds a test runs itself (tick) or
 * the verdicts it stores write the verdict read back.
 */

let gateway: Gateway;

beforeEach(async () => {
  // Nothing is proxied here, so the targets need not answer.
  const versions = { v1: ['http://127.0.0.1:9'], v2: ['http://127.0.0.1:9'], v3: ['http://127.0.0.1:9'] };
  gateway = await startTestGateway(configYaml(versions, 'analysis: { interval: 1h }'));
});
afterEach(async () => {
  await gateway.close();
});

const { cli, ok, json, expectUsageErrors } = cliAgainst(() => gateway.adminUrl);

/** The report's table: from the CHECK header to the blank line before the details. */
function tableOf(report: string, from = 0): string[] {
  const lines = report.split('\n');
  const start = lines.findIndex((line, i) => i >= from && line.startsWith('CHECK'));
  const end = lines.indexOf('', start);
  return lines.slice(start, end);
}

function check(name: string, value: number | null, threshold: number, result: VerdictCheck['result'], meaning: string): VerdictCheck {
  return { name, value, threshold, result, detail: `figures behind ${name}`, meaning };
}

/** A verdict that holds the manual canary started in the test, with a shadow judged beside it. */
async function storeHeldVerdict(sinceMsAgo: number): Promise<Verdict> {
  const state = await gateway.commands.state('fraud-scorer');
  const now = Date.now();
  const verdict: Verdict = {
    result: 'inconclusive',
    reason: 'the candidate gets 9% of requests at weight 5%',
    at: now,
    hold: true,
    checks: [
      check('evidence', 3.2e12, 200, 'fail', 'the evidence against the candidate reached the rollback threshold'),
      check('sample ratio', 2.5e-9, 1e-6, 'inconclusive', 'the candidate gets a different share of requests than its weight'),
      check('latency mean evidence', null, 125, 'inconclusive', 'too few candidate requests to compare mean latency yet'),
      check('absolute error ratio', 0.012345, 0.5, 'pass', 'the candidate is not failing wholesale'),
    ],
    figures: { buckets: 40 },
    shadow: {
      version: 'v3',
      result: 'fail',
      reason: 'shadow v3 disagrees with stable on 31% of requests',
      checks: [check('shadow disagreement', 0.31, 0.05, 'fail', 'the shadow predicts differently from stable')],
      figures: { pairs: 400 },
      drift: { flagged: true, rollback: false, reason: 'disagreement 31% above the 5% tolerated', figures: { pairs: 400 } },
    },
    startedAt: state.startedAt,
    held: { kind: 'sample-ratio', reason: 'candidate share 9.0% vs expected 5.0%', since: now - sinceMsAgo },
  };
  await gateway.store.putVerdict('fraud-scorer', verdict);
  return verdict;
}

describe('switchyard explain-verdict', () => {
  it("reports a real analysis round: the result, the rollout it judged, and every check with its meaning and detail", async () => {
    await ok(['start', 'fraud-scorer', 'v2']);
    await gateway.analysis.tick();
    const state = await json(['explain-verdict', 'fraud-scorer']);
    const checks = state.lastVerdict.checks as Array<{ name: string; result: string; meaning: string; detail: string }>;
    expect(checks.length).toBeGreaterThan(0);

    const out = await ok(['explain-verdict', 'fraud-scorer']);
    // No traffic yet: nothing to judge is inconclusive, never a pass.
    expect(out).toMatch(/^service:\s+fraud-scorer\nverdict:\s+inconclusive: \S/);
    expect(out).toMatch(/\njudged:\s+\d{4}-\d\d-\d\dT\S+Z \((under 1s|\d+s|\d+m( \d+s)?) ago\)\n/);
    expect(out).toContain(`\nrollout:  candidate v2 against stable v1 (canary), started ${String(state.startedAt)}\n`);
    expect(out).toMatch(/\nheld:\s+no\n/);
    const table = tableOf(out);
    expect(table[0]).toMatch(/^CHECK\s+RESULT\s+VALUE\s+THRESHOLD\s+MEANING$/);
    expect(table).toHaveLength(checks.length + 1);
    checks.forEach((c, i) => {
      expect(table[i + 1]).toMatch(new RegExp(`^${c.name}\\s+${c.result}\\s+\\S+\\s+\\S+\\s+`));
      expect(table[i + 1]!.endsWith(c.meaning)).toBe(true);
      expect(out).toContain(`\n  ${c.name}: ${c.detail}`);
    });
    expect(out).not.toMatch(/NaN|undefined|Infinity/);
  });

  it('says when there is no verdict yet, and --json prints the API answer', async () => {
    expect(await ok(['explain-verdict', 'fraud-scorer'])).toBe(
      'fraud-scorer: no verdict yet; the analysis judges a rollout in progress (and a shadow) every analysis.interval\n',
    );
    expect(await json(['explain-verdict', 'fraud-scorer'])).toMatchObject({ service: 'fraud-scorer', lastVerdict: null, revision: 1 });
  });

  it('reports what holds the rollout and for how long, short numbers, and the shadow with its own checks', async () => {
    await ok(['start', 'fraud-scorer', 'v2', '--weight', '5']);
    const verdict = await storeHeldVerdict(150_000);
    const out = await ok(['explain-verdict', 'fraud-scorer']);
    const since = new Date(verdict.held!.since).toISOString();
    expect(out).toMatch(new RegExp(`\\nheld:\\s+candidate share 9\\.0% vs expected 5\\.0% \\(since ${since}, for 2m \\d+s\\)\\n`));
    const rows = tableOf(out);
    expect(rows.slice(1).map((row) => row.split(/\s{2,}/).slice(0, 4))).toEqual([
      ['evidence', 'fail', '3.2e12', '200'],
      ['sample ratio', 'inconclusive', '2.5e-9', '1e-6'],
      ['latency mean evidence', 'inconclusive', '-', '125'],
      ['absolute error ratio', 'pass', '0.0123', '0.5'],
    ]);
    expect(out).toContain('\nshadow:  v3 fail: shadow v3 disagrees with stable on 31% of requests\ndrift:   flagged: disagreement 31% above the 5% tolerated\n');
    const shadowRows = tableOf(out, out.split('\n').findIndex((line) => line.startsWith('shadow:')));
    expect(shadowRows.slice(1).map((row) => row.split(/\s{2,}/))).toEqual([['shadow disagreement', 'fail', '0.31', '0.05', 'the shadow predicts differently from stable']]);
    expect(out).toContain('\n  shadow disagreement: figures behind shadow disagreement');
    expect(out).not.toMatch(/NaN|undefined/);
  });

  it('exits 1 for an unknown service and 2 on usage errors', async () => {
    const unknown = await cli(['explain-verdict', 'nope']);
    expect(unknown.code).toBe(EXIT.refused);
    expectOneLine(unknown.err, 'nope');
    await expectUsageErrors([
      [['explain-verdict'], "missing required argument 'service'"],
      [['explain-verdict', 'fraud-scorer', 'extra'], 'too many arguments'],
      [['status', '--checks'], '--checks: give a service'],
    ]);
  });
});

describe('switchyard status', () => {
  it('shows what holds a manual canary, in the table and in detail', async () => {
    await ok(['start', 'fraud-scorer', 'v2', '--weight', '5']);
    const verdict = await storeHeldVerdict(90_000);
    expect(await ok(['status'])).toMatch(/\nfraud-scorer\s+progressing \(held\)\s+v1\s+v2\s+5%\s+manual\s+canary/);
    const detail = await ok(['status', 'fraud-scorer']);
    expect(detail).toMatch(/\nstep:\s+manual\n/);
    expect(detail).toMatch(new RegExp(`\\nheld:\\s+candidate share 9\\.0% vs expected 5\\.0% \\(since ${new Date(verdict.held!.since).toISOString()}, for 1m \\d+s\\)\\n?$`));
    expect(detail).not.toContain('CHECK');
  });

  it('prints the status and then the verdict report with --checks', async () => {
    await ok(['start', 'fraud-scorer', 'v2', '--weight', '5']);
    await storeHeldVerdict(90_000);
    const status = await ok(['status', 'fraud-scorer']);
    const report = await ok(['explain-verdict', 'fraud-scorer']);
    const both = await ok(['status', 'fraud-scorer', '--checks']);
    // Both read the same stored verdict; only the seconds of "ago" may tick between the calls.
    const seconds = (text: string) => text.replace(/\d+s\b/g, 'Ns');
    expect(seconds(both)).toBe(seconds(`${status}\n${report}`));
    expect(tableOf(both)).toHaveLength(5);
    expect(await json(['status', 'fraud-scorer', '--checks'])).toMatchObject({ manual: true, lastVerdict: { held: { kind: 'sample-ratio' } } });
  });

  it('does not show a hold that is not there', async () => {
    await ok(['start', 'fraud-scorer', 'v2']);
    await gateway.analysis.tick();
    expect(await ok(['status', 'fraud-scorer'])).not.toMatch(/\nheld:/);
    expect(await ok(['status'])).toMatch(/\nfraud-scorer\s+progressing\s+v1\s+v2\s+10%\s+1\/2\s/);
  });
});
