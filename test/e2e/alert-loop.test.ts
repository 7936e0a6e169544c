import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startSampleBackend, type SampleBackend } from '../../src/demo/sample-backend.js';
import type { Gateway } from '../../src/gateway/gateway.js';
// A port nothing listens on, bound then released: where Prometheus and Alertmanager start.
import { deadPort as freePort } from '../helpers/backends.js';
import { admin, configYaml, OPERATOR_TOKEN, startTestGateway } from '../helpers/gateway.js';

// The whole alert loop with the real Debian binaries on loopback ports:
// Prometheus scrapes the gateway's /metrics, the committed rule on the
// candidate's error ratio fires, Alertmanager posts it to the gateway's
// webhook, the gateway rolls back. The gateway's own analysis is disabled for
// the service so the alert is what acts. Prometheus and Alertmanager run on
// configs derived from config/prometheus and config/alertmanager, so the test
// keeps the committed rule and routing honest.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PROMETHEUS = '/usr/bin/prometheus';
const ALERTMANAGER = '/usr/bin/prometheus-alertmanager';
const ALERT = 'SwitchyardCandidateErrorRatioHigh';
const ROLLBACK_BOUND_MS = 60_000;

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  output: string;
}

const procs: Proc[] = [];
const tmpDirs: string[] = [];
const backends: SampleBackend[] = [];
let gateway: Gateway | undefined;

function tmp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tmpDirs.push(dir);
  return dir;
}

function startProcess(name: string, binary: string, args: string[]): Proc {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc: Proc = { name, child, output: '' };
  const keep = (chunk: Buffer) => {
    proc.output = (proc.output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (err) => keep(Buffer.from(`spawn error: ${err.message}\n`)));
  procs.push(proc);
  return proc;
}

async function stopProcess(proc: Proc): Promise<void> {
  const { child } = proc;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, proc?: Proc): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (proc !== undefined && proc.child.exitCode !== null) throw new Error(`${proc.name} exited (${proc.child.exitCode}) while waiting for ${what}:\n${proc.output}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

const ready = (url: string) => async () => ((await fetch(url)).ok ? true : undefined);

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The committed rule file with `for: 0s`, so the test need not wait out the hold. */
function testRules(): { text: string; rule: AlertRule } {
  const rules = parse(readFileSync(join(ROOT, 'config/prometheus/alerts.yml'), 'utf8')) as { groups: Array<{ name: string; rules: AlertRule[] }> };
  const rule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === ALERT);
  if (rule === undefined) throw new Error(`config/prometheus/alerts.yml has no alert ${ALERT}`);
  for (const group of rules.groups) for (const r of group.rules) r.for = '0s';
  return { text: stringify(rules), rule };
}

/** The committed prometheus.yml pointed at this test's gateway, rules and Alertmanager, with 1 s intervals. */
function testPrometheusConfig(adminHostPort: string, rulesPath: string, alertmanagerHostPort: string): string {
  const config = parse(readFileSync(join(ROOT, 'config/prometheus/prometheus.yml'), 'utf8')) as {
    global: Record<string, string>;
    rule_files: string[];
    alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
    scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
  };
  config.global.scrape_interval = '1s';
  config.global.evaluation_interval = '1s';
  config.rule_files = [rulesPath];
  config.alerting.alertmanagers = [{ static_configs: [{ targets: [alertmanagerHostPort] }] }];
  const job = config.scrape_configs.find((s) => s.job_name === 'switchyard');
  if (job === undefined) throw new Error('config/prometheus/prometheus.yml has no switchyard job');
  job.static_configs = [{ targets: [adminHostPort] }];
  config.scrape_configs = [job];
  return stringify(config);
}

/** The committed alertmanager.yml with no waiting, posting to this test's gateway with its operator token. */
function testAlertmanagerConfig(webhookUrl: string): string {
  const config = parse(readFileSync(join(ROOT, 'config/alertmanager/alertmanager.yml'), 'utf8')) as {
    route: Record<string, unknown>;
    receivers: Array<{ name: string; webhook_configs?: Array<{ url: string; http_config: { authorization: { credentials: string } } }> }>;
  };
  Object.assign(config.route, { group_wait: '0s', group_interval: '1s', repeat_interval: '1h' });
  const receiver = config.receivers.find((r) => r.webhook_configs?.some((h) => h.url.endsWith('/api/v1/alerts/alertmanager')));
  if (receiver === undefined) throw new Error('config/alertmanager/alertmanager.yml has no receiver posting to the gateway webhook');
  const hook = receiver.webhook_configs![0]!;
  hook.url = webhookUrl;
  hook.http_config.authorization.credentials = OPERATOR_TOKEN;
  receiver.webhook_configs = [hook];
  return stringify(config);
}

interface ServiceState {
  phase: string;
  candidate: string | null;
  weight: number;
  reason: string | null;
}

async function state(gw: Gateway): Promise<ServiceState> {
  const res = await admin(gw, 'GET', '/api/v1/services/fraud-scorer');
  expect(res.status).toBe(200);
  return (await res.json()) as ServiceState;
}

describe('alert loop: Prometheus → Alertmanager → gateway webhook → rollback', () => {
  let prometheusUrl = '';
  let alertmanagerUrl = '';

  beforeAll(async () => {
    const [v1, v2] = await Promise.all([startSampleBackend({ version: 'v1' }), startSampleBackend({ version: 'v2' })]);
    backends.push(v1, v2);
    gateway = await startTestGateway(configYaml({ v1: [v1.url], v2: [v2.url] }, '', '    analysis: { enabled: false }'));
    expect((await admin(gateway, 'POST', '/api/v1/services/fraud-scorer/rollout', { candidate: 'v2' })).status).toBe(200);
    expect((await admin(gateway, 'POST', '/api/v1/services/fraud-scorer/weight', { weight: 50 })).status).toBe(200);

    const [promPort, amPort] = [await freePort(), await freePort()];
    const dir = tmp('switchyard-alert-loop-');
    const rulesPath = join(dir, 'alerts.yml');
    writeFileSync(rulesPath, testRules().text);
    writeFileSync(join(dir, 'prometheus.yml'), testPrometheusConfig(new URL(gateway.adminUrl).host, rulesPath, `127.0.0.1:${amPort}`));
    writeFileSync(join(dir, 'alertmanager.yml'), testAlertmanagerConfig(`${gateway.adminUrl}/api/v1/alerts/alertmanager`));

    const am = startProcess('alertmanager', ALERTMANAGER, [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${tmp('switchyard-am-data-')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ]);
    const prom = startProcess('prometheus', PROMETHEUS, [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${tmp('switchyard-prom-data-')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ]);
    alertmanagerUrl = `http://127.0.0.1:${amPort}`;
    prometheusUrl = `http://127.0.0.1:${promPort}`;
    await waitFor('Alertmanager to be ready', 20_000, ready(`${alertmanagerUrl}/-/ready`), am);
    await waitFor('Prometheus to be ready', 20_000, ready(`${prometheusUrl}/-/ready`), prom);
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(procs.map(stopProcess));
    await gateway?.close();
    await Promise.allSettled(backends.map((b) => b.close()));
    for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it(`rolls the canary back on ${ALERT} within ${ROLLBACK_BOUND_MS / 1000} s of the candidate failing`, async () => {
    const gw = gateway!;
    const [, v2] = backends;
    let stop = false;
    let sent = 0;
    const traffic = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          const res = await fetch(`${gw.proxyUrl}/fraud/score`, { method: 'POST', headers: { 'x-user-id': `user-${i % 400}` }, body: '{"amount":1}' });
          await res.arrayBuffer();
          sent++;
        } catch {
          // the loop only feeds the metrics; a failed request is counted by the gateway too
        }
        await new Promise((ok) => setTimeout(ok, 10));
      }
    })();
    try {
      // Prometheus has scraped the candidate's requests before it breaks (the rule sees a healthy v2 first).
      await waitFor('Prometheus to scrape the candidate', 20_000, async () => {
        const url = `${prometheusUrl}/api/v1/query?query=${encodeURIComponent('sum(switchyard_requests_total{service="fraud-scorer",version="v2"})')}`;
        const body = (await (await fetch(url)).json()) as { data: { result: Array<{ value: [number, string] }> } };
        const value = Number(body.data.result[0]?.value[1] ?? 0);
        return value > 20 ? true : undefined;
      });
      expect((await state(gw)).phase).toBe('progressing');

      const brokeAt = Date.now();
      const control = await fetch(`${v2!.url}/_control`, { method: 'POST', body: JSON.stringify({ errorRate: 1 }) });
      expect(control.status).toBe(200);

      const after = await waitFor(`the gateway to roll back on ${ALERT}`, ROLLBACK_BOUND_MS, async () => {
        const s = await state(gw);
        return s.phase === 'rolled_back' ? s : undefined;
      });
      const tookMs = Date.now() - brokeAt;
      console.log(`alert loop: rolled back ${(tookMs / 1000).toFixed(1)} s after v2 started failing (${sent} requests sent); reason: ${after.reason}`);

      expect(after.reason).toContain(ALERT);
      expect(after.weight).toBe(0);
      expect(tookMs).toBeLessThanOrEqual(ROLLBACK_BOUND_MS);

      // The audit log names the token Alertmanager used and the alert.
      const audit = (await (await admin(gw, 'GET', '/api/v1/audit?service=fraud-scorer&limit=5')).json()) as { entries: Array<{ action: string; actor: string; reason: string | null }> };
      const rollback = audit.entries.find((e) => e.action === 'rollback');
      expect(rollback?.actor).toBe('ops');
      expect(rollback?.reason).toContain(ALERT);

      // Alertmanager holds the alert with the labels the webhook acts on.
      const alerts = (await (await fetch(`${alertmanagerUrl}/api/v2/alerts`)).json()) as Array<{ labels: Record<string, string> }>;
      const fired = alerts.find((a) => a.labels.alertname === ALERT);
      expect(fired?.labels).toMatchObject({ service: 'fraud-scorer', version: 'v2' });
    } catch (err) {
      for (const proc of procs) console.error(`--- ${proc.name} output ---\n${proc.output}`);
      throw err;
    } finally {
      stop = true;
      await traffic;
    }
  }, 90_000);
});
