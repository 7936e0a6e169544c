import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_RULES } from '../../src/core/control-rules.js';
import type { Verdict } from '../../src/core/rollout-state.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { admin, configYaml, OPERATOR_TOKEN, startTestGateway } from '../helpers/gateway.js';
import { PACKAGE_VERSION } from '../helpers/package-version.js';

/**
 * The web console in a real browser: Debian's chromium driven by playwright-core
 * (never a downloaded browser). Screenshot in .artifacts/console.png.
 */

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = '.artifacts';
const STEP_MS = 10_000;

let gateway: Gateway;
let backends: TestBackend[] = [];
let browser: Browser | undefined;
let page: Page;

async function serviceState(): Promise<{ weight: number; phase: string; candidate: string | null }> {
  const res = await admin(gateway, 'GET', '/api/v1/services/fraud-scorer');
  expect(res.status).toBe(200);
  return (await res.json()) as { weight: number; phase: string; candidate: string | null };
}

describe('web console', () => {
  beforeAll(async () => {
    backends = await Promise.all([startBackend('v1'), startBackend('v2')]);
    gateway = await startTestGateway(configYaml({ v1: [backends[0]!.url], v2: [backends[1]!.url] }));
    const started = await admin(gateway, 'POST', '/api/v1/services/fraud-scorer/rollout', { candidate: 'v2' });
    expect(started.status).toBe(200);
    for (let i = 0; i < 20; i++) await fetch(`${gateway.proxyUrl}/fraud/score`, { headers: { 'x-user-id': `user-${i}` } }).then((r) => r.text());
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: STEP_MS,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    page = await context.newPage();
    page.setDefaultTimeout(STEP_MS);
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('serves the page, its module and uPlot without a token, with a strict CSP', async () => {
    for (const path of ['/', '/console.js', '/console.css', '/duration-text.js', '/vendor/uplot/uPlot.esm.js', '/vendor/uplot/uPlot.min.css']) {
      const res = await fetch(`${gateway.adminUrl}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-security-policy'), path).toContain("script-src 'self'");
    }
    expect((await fetch(`${gateway.adminUrl}/api/v1/services`)).status).toBe(401);
  });

  it('answers the chart series per version', async () => {
    const res = await admin(gateway, 'GET', '/api/v1/services/fraud-scorer/series?minutes=5');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { times: number[]; stepMs: number; versions: Record<string, { rate: number[] }> };
    expect(body.stepMs).toBe(5000);
    expect(body.times).toHaveLength(60);
    expect(Object.keys(body.versions)).toEqual(['v1', 'v2']);
    expect((await admin(gateway, 'GET', '/api/v1/services/fraud-scorer/series?minutes=0')).status).toBe(400);
  });

  it('asks for the token, shows the service, sets the weight and rolls back with a reason', async () => {
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });

    await page.goto(`${gateway.adminUrl}/`);
    // The footer names the release before any token is typed: /healthz needs none.
    await expect.poll(() => page.locator('footer #version').textContent(), { timeout: STEP_MS }).toBe(PACKAGE_VERSION);
    await page.locator('#token').fill(OPERATOR_TOKEN);
    await page.getByRole('button', { name: 'Connect' }).click();

    const card = page.locator('article[data-service="fraud-scorer"]');
    await expect.poll(() => card.locator('[data-field="phase"]').textContent(), { timeout: STEP_MS }).toBe('progressing');
    expect(await card.locator('[data-field="candidate"]').textContent()).toBe('v2');
    expect(await card.locator('[data-field="weight"]').textContent()).toBe('10%');
    // The token lives in this tab's session storage only.
    // (The function runs in the page; tsconfig has no DOM lib, hence globalThis.)
    const stored = await page.evaluate(() => {
      const g = globalThis as unknown as { sessionStorage: { getItem(k: string): string | null }; localStorage: { length: number } };
      return [g.sessionStorage.getItem('switchyard.token'), g.localStorage.length];
    });
    expect(stored).toEqual([OPERATOR_TOKEN, 0]);

    await card.locator('[data-control="weight-input"]').fill('25');
    await card.locator('[data-control="set-weight"]').click();
    await expect.poll(async () => (await serviceState()).weight, { timeout: STEP_MS }).toBe(25);
    await expect.poll(() => card.locator('[data-field="weight"]').textContent(), { timeout: STEP_MS }).toBe('25%');

    await card.locator('[data-control="rollback"]').click();
    const dialog = page.locator('dialog#confirm');
    await expect.poll(() => dialog.isVisible(), { timeout: STEP_MS }).toBe(true);
    // An empty reason is refused in the page: nothing is sent.
    await dialog.locator('#confirm-ok').click();
    expect(await dialog.isVisible()).toBe(true);
    expect((await serviceState()).phase).toBe('progressing');
    await dialog.locator('#confirm-reason').fill('p99 doubled in the console test');
    await dialog.locator('#confirm-ok').click();

    await expect.poll(async () => (await serviceState()).phase, { timeout: STEP_MS }).toBe('rolled_back');
    const entry = page.locator('#audit li[data-audit="rollback"]');
    await expect.poll(() => entry.count(), { timeout: STEP_MS }).toBe(1);
    expect(await entry.textContent()).toContain('p99 doubled in the console test');
    await expect.poll(() => card.locator('[data-field="phase"]').textContent(), { timeout: STEP_MS }).toBe('rolled_back');
    expect(await page.locator('[data-chart]').count()).toBe(3);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}/console.png`, fullPage: true, timeout: STEP_MS });
    expect(errors).toEqual([]);
  }, 60_000);

  it('sets a shadow with If-Match, shows it on the card and in the audit, and stops it', async () => {
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    const writes: string[] = [];
    page.on('request', (req) => {
      if (req.url().endsWith('/shadow')) writes.push(`${req.method()} if-match ${req.headers()['if-match'] ?? 'none'}`);
    });
    const card = page.locator('article[data-service="fraud-scorer"]');
    await expect.poll(() => card.locator('[data-field="shadow"]').textContent(), { timeout: STEP_MS }).toBe('none');
    const revision = (await (await admin(gateway, 'GET', '/api/v1/services/fraud-scorer')).json()) as { revision: number };

    // v2 was rolled back above: it may be watched in the dark.
    await card.locator('[data-control="shadow-version"]').fill('v2');
    await card.locator('[data-control="shadow-percent"]').fill('12.5');
    await card.locator('[data-control="reason"]').fill('watch the fix in the dark');
    await card.locator('[data-control="set-shadow"]').click();
    await expect.poll(() => card.locator('[data-field="shadow"]').textContent(), { timeout: STEP_MS }).toMatch(/^v2 on 12\.5% of keys, since /);
    const set = page.locator('#audit li[data-audit="shadow"]');
    await expect.poll(() => set.count(), { timeout: STEP_MS }).toBe(1);
    expect(await set.textContent()).toContain('watch the fix in the dark');

    // The analysis judges the shadow on its next round; its judgement shows beside the live verdict.
    await expect.poll(() => card.locator('[data-field="shadow-verdict"]').textContent(), { timeout: STEP_MS }).toMatch(/^v2 (pass|fail|inconclusive)$/);
    expect(await card.locator('[data-field="shadow-verdict-line"]').isVisible()).toBe(true);

    await card.locator('[data-control="reason"]').fill('');
    await card.locator('[data-control="stop-shadow"]').click();
    await expect.poll(() => card.locator('[data-field="shadow"]').textContent(), { timeout: STEP_MS }).toBe('none');
    await expect.poll(() => page.locator('#audit li[data-audit="shadow-stop"]').count(), { timeout: STEP_MS }).toBe(1);
    expect(writes).toEqual([`PUT if-match ${revision.revision}`, `DELETE if-match ${revision.revision + 1}`]);

    // Stable cannot be shadowed: the gateway's refusal is shown, nothing changes.
    await card.locator('[data-control="shadow-version"]').fill('v1');
    await card.locator('[data-control="shadow-percent"]').fill('10');
    await card.locator('[data-control="set-shadow"]').click();
    await expect.poll(() => page.locator('#status').textContent(), { timeout: STEP_MS }).toContain('shadowing stable compares it with itself');
    expect(((await serviceState()) as { shadow?: unknown }).shadow).toBeNull();
    expect(errors).toEqual([]);
  }, 60_000);

  it('marks a manual canary, shows what holds it, and lists every check of the last verdict', async () => {
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    // The loop's next round would replace the verdict stored below; from here on only the test writes verdicts.
    await gateway.analysis.stop();
    expect((await admin(gateway, 'POST', '/api/v1/services/fraud-scorer/rollout', { candidate: 'v2', weight: 5 })).status).toBe(200);
    const { startedAt } = await gateway.commands.state('fraud-scorer');
    const reason = 'candidate share 9.0% vs expected 5.0% over 400 requests';
    const verdict: Verdict = {
      result: 'inconclusive',
      reason: 'the candidate gets a different share of requests than its weight',
      at: Date.now(),
      hold: true,
      checks: [
        { name: 'evidence', value: 3.2e12, threshold: 200, result: 'fail', detail: 'largest weighted average so far', meaning: 'the evidence against the candidate reached the rollback threshold' },
        { name: 'sample ratio', value: 2.5e-9, threshold: 1e-6, result: 'inconclusive', detail: 'candidate share 9.0% vs expected 5.0%', meaning: 'the candidate gets a different share of requests than its weight' },
        { name: 'latency mean evidence', value: null, threshold: 125, result: 'inconclusive', detail: '12 candidate requests so far', meaning: 'too few candidate requests to compare mean latency yet' },
      ],
      figures: {},
      startedAt,
      held: { kind: 'sample-ratio', reason, since: Date.now() - 90_000 },
    };
    await gateway.store.putVerdict('fraud-scorer', verdict);

    const card = page.locator('article[data-service="fraud-scorer"]');
    await expect.poll(() => card.locator('[data-field="step"]').textContent(), { timeout: STEP_MS }).toBe('manual');
    expect(await card.locator('[data-field="manual"]').isVisible()).toBe(true);
    await expect.poll(() => card.locator('[data-field="held"]').isVisible(), { timeout: STEP_MS }).toBe(true);
    expect(await card.locator('[data-field="held-reason"]').textContent()).toBe(reason);
    expect(await card.locator('[data-field="held-since"]').textContent()).toMatch(/^ \(sample-ratio, since .+, \d+ min ago\)$/);

    // Folded at first: the summary counts the checks; opened, each shows its result, value vs threshold and meaning.
    const checks = card.locator('[data-field="checks"]');
    expect(await checks.locator('summary').textContent()).toBe('3 checks of the last verdict, 1 failing');
    const evidence = checks.locator('tr[data-check="evidence"]');
    expect(await evidence.isVisible()).toBe(false);
    await checks.locator('summary').click();
    await expect.poll(() => evidence.isVisible(), { timeout: STEP_MS }).toBe(true);
    const cells = async (name: string) => checks.locator(`tr[data-check="${name}"] td`).allTextContents();
    expect(await checks.locator('tbody tr').count()).toBe(3);
    expect(await cells('evidence')).toEqual(['evidence', 'fail', '3.2e12 / 200', 'the evidence against the candidate reached the rollback thresholdlargest weighted average so far']);
    expect((await cells('sample ratio')).slice(0, 3)).toEqual(['sample ratio', 'inconclusive', '2.5e-9 / 1e-6']);
    expect((await cells('latency mean evidence')).slice(0, 3)).toEqual(['latency mean evidence', 'inconclusive', '– / 125']);
    // The list stays open across the 2 s refresh.
    await page.waitForEvent('response', { predicate: (res) => res.url().endsWith('/api/v1/services'), timeout: STEP_MS });
    expect(await evidence.isVisible()).toBe(true);

    const start = page.locator('#audit li[data-audit="start"] [data-field="rule"]').first();
    await expect.poll(() => start.textContent(), { timeout: STEP_MS }).toBe(`rule: ${CONTROL_RULES.manualCanary}`);

    await page.screenshot({ path: `${ARTIFACTS}/console-held.png`, fullPage: true, timeout: STEP_MS });
    expect(errors).toEqual([]);
  }, 60_000);

  it("shows an override's expiry in the CLI's words, not in seconds", async () => {
    const put = await admin(gateway, 'PUT', '/api/v1/services/fraud-scorer/overrides/alice', { version: 'v2', reason: 'debug a report', ttl: '1h' });
    expect(put.status).toBe(200);
    const row = page.locator('article[data-service="fraud-scorer"] tbody[data-field="overrides"] tr').filter({ hasText: 'alice' });
    await expect.poll(() => row.count(), { timeout: STEP_MS }).toBe(1);
    expect(await row.locator('[data-field="expires-in"]').textContent()).toMatch(/^59m \d{1,2}s$/);
  }, 30_000);

  it('draws a point for a series with a single value between gaps', async () => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 1000 } });
    const lonely = await context.newPage();
    lonely.setDefaultTimeout(STEP_MS);
    // One version with requests in one 5-s point of the last 5 minutes: p99 has one value, null on both sides.
    const stepS = 5;
    const at = Math.floor(Date.now() / 1000 / stepS) * stepS;
    const times = Array.from({ length: 60 }, (_, i) => at - (59 - i) * stepS);
    const only = <T>(value: T, empty: T | null) => times.map((_, i) => (i === 30 ? value : empty));
    const series = {
      service: 'fraud-scorer',
      stepMs: stepS * 1000,
      from: new Date(times[0]! * 1000).toISOString(),
      to: new Date((at + stepS) * 1000).toISOString(),
      times,
      versions: { v1: { rate: only(0.4, 0), errorRatio: only(0, null), p99Ms: only(42, null), requests: only(2, 0), errors: only(0, 0) } },
      comparisons: {},
    };
    await lonely.route(/\/api\/v1\/services\/fraud-scorer\/series\?/, (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(series) }));
    await lonely.goto(`${gateway.adminUrl}/`);
    await lonely.locator('#token').fill(OPERATOR_TOKEN);
    await lonely.getByRole('button', { name: 'Connect' }).click();

    const canvas = lonely.locator('[data-chart="p99Ms"] canvas');
    await expect.poll(() => canvas.count(), { timeout: STEP_MS }).toBe(1);
    // The series' colour (#2f5bea) on the canvas: blue well above red and green, which the grid and axes never are.
    const bluePixels = () =>
      canvas.evaluate((el) => {
        const c = el as unknown as { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } };
        const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
        let count = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i + 3]! > 0 && data[i + 2]! - data[i]! > 80 && data[i + 2]! - data[i + 1]! > 60) count++;
        return count;
      });
    await expect.poll(bluePixels, { timeout: STEP_MS }).toBeGreaterThan(10);
    await lonely.screenshot({ path: `${ARTIFACTS}/console-one-point.png`, fullPage: true, timeout: STEP_MS });
    await context.close();
  }, 30_000);
});
