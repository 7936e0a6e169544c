import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { adminTlsYaml, curl, portOf } from '../helpers/admin-tls.js';
// A port nothing listens on, bound then released: where Prometheus and Alertmanager start.
import { deadPort as freePort } from '../helpers/backends.js';
import { OPERATOR_TOKEN } from '../helpers/gateway.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTestCa, type Issued, type TestCa } from '../helpers/test-pki.js';

// The admin port with mutual TLS (clientAuth: require) and the real Debian
// Alertmanager and Prometheus as its clients, configured as docs/tls.md says:
// Alertmanager's webhook `http_config.tls_config` (and the bearer token beside
// it) reaches the alerts webhook, which rolls the canary back; Prometheus
// scrapes /metrics with its client certificate, and a job without one is
// refused at the handshake.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ALERT = 'SwitchyardCandidateErrorRatioHigh';

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  output: string;
}

const procs: Proc[] = [];

function startProcess(name: string, binary: string, args: string[]): Proc {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc: Proc = { name, child, output: '' };
  const keep = (chunk: Buffer) => void (proc.output = (proc.output + chunk.toString('utf8')).slice(-20_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  procs.push(proc);
  return proc;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${procs.map((p) => `--- ${p.name}\n${p.output}`).join('\n')}`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

/** The TLS block of docs/tls.md, for a client of the admin port. */
const tlsConfig = (ca: TestCa, pair: Issued) => ({ ca_file: ca.caFile, cert_file: pair.cert, key_file: pair.key });

/** The committed alertmanager.yml, posting at once to this gateway's webhook over mutual TLS. */
function alertmanagerConfig(webhookUrl: string, tls: Record<string, string>): string {
  const config = parse(readFileSync(join(ROOT, 'config/alertmanager/alertmanager.yml'), 'utf8')) as {
    route: Record<string, unknown>;
    receivers: Array<{ name: string; webhook_configs?: Array<{ url: string; http_config: Record<string, unknown> & { authorization: { credentials: string } } }> }>;
  };
  Object.assign(config.route, { group_wait: '0s', group_interval: '1s', repeat_interval: '1h' });
  const receiver = config.receivers.find((r) => r.webhook_configs?.some((h) => h.url.endsWith('/api/v1/alerts/alertmanager')));
  if (receiver === undefined) throw new Error('config/alertmanager/alertmanager.yml has no receiver posting to the gateway webhook');
  const hook = receiver.webhook_configs![0]!;
  hook.url = webhookUrl;
  hook.http_config.authorization.credentials = OPERATOR_TOKEN;
  hook.http_config['tls_config'] = tls;
  receiver.webhook_configs = [hook];
  return stringify(config);
}

describe('Alertmanager and Prometheus against an admin port with mutual TLS', () => {
  let gw: ServeProcess;
  let ca: TestCa;
  let operator: Issued;
  let alertmanagerUrl = '';
  let prometheusUrl = '';

  beforeAll(async () => {
    ca = makeTestCa('E2E mTLS CA');
    const server = ca.issue('admin');
    const alertmanager = ca.issue('alertmanager', { client: true });
    const prometheus = ca.issue('prometheus', { client: true });
    operator = ca.issue('operator', { client: true });
    gw = await startServeProcess(adminTlsYaml(`{ cert: "${server.cert}", key: "${server.key}", ca: "${ca.caFile}", clientAuth: require }`));
    const base = `https://localhost:${portOf(gw.adminUrl)}`;

    const dir = mkdtempSync(join(tmpdir(), 'sy-mtls-clients-'));
    const [amPort, promPort] = [await freePort(), await freePort()];
    writeFileSync(join(dir, 'alertmanager.yml'), alertmanagerConfig(`${base}/api/v1/alerts/alertmanager`, tlsConfig(ca, alertmanager)));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s' },
        scrape_configs: [
          { job_name: 'switchyard', scheme: 'https', tls_config: tlsConfig(ca, prometheus), static_configs: [{ targets: [new URL(base).host] }] },
          { job_name: 'no-client-cert', scheme: 'https', tls_config: { ca_file: ca.caFile }, static_configs: [{ targets: [new URL(base).host] }] },
        ],
      }),
    );
    startProcess('alertmanager', '/usr/bin/prometheus-alertmanager', [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${mkdtempSync(join(tmpdir(), 'sy-am-data-'))}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ]);
    startProcess('prometheus', '/usr/bin/prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${mkdtempSync(join(tmpdir(), 'sy-prom-data-'))}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ]);
    alertmanagerUrl = `http://127.0.0.1:${amPort}`;
    prometheusUrl = `http://127.0.0.1:${promPort}`;
    await waitFor('Alertmanager to be ready', 20_000, async () => ((await fetch(`${alertmanagerUrl}/-/ready`)).ok ? true : undefined));
    await waitFor('Prometheus to be ready', 20_000, async () => ((await fetch(`${prometheusUrl}/-/ready`)).ok ? true : undefined));
  }, 60_000);

  afterAll(async () => {
    for (const { child } of procs) child.kill('SIGKILL');
    await gw?.stop();
  });

  /** curl as an operator: the CA, a client certificate and the token. */
  const asOperator = () => ['--cacert', ca.caFile, '--cert', operator.cert, '--key', operator.key, '-H', `authorization: Bearer ${OPERATOR_TOKEN}`];

  it("Alertmanager's webhook with tls_config and the token rolls the canary back", async () => {
    const args = asOperator();
    const service = `https://localhost:${portOf(gw.adminUrl)}/api/v1/services/fraud-scorer`;
    const started = await curl(`${service}/rollout`, [...args, '-X', 'POST', '-H', 'content-type: application/json', '-d', '{"candidate":"v2"}']);
    expect(started.status).toBe(200);

    const alert = [{ labels: { alertname: ALERT, service: 'fraud-scorer', version: 'v2', severity: 'page' } }];
    const posted = await fetch(`${alertmanagerUrl}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alert) });
    expect(posted.status).toBe(200);

    const state = await waitFor('the gateway to roll back on the alert', 30_000, async () => {
      const body = JSON.parse((await curl(service, args)).body) as { phase: string; reason: string | null };
      return body.phase === 'rolled_back' ? body : undefined;
    });
    expect(state.reason).toContain(ALERT);
    const audit = JSON.parse((await curl(`https://localhost:${portOf(gw.adminUrl)}/api/v1/audit?service=fraud-scorer&limit=1`, args)).body) as { entries: Array<{ action: string; actor: string }> };
    expect(audit.entries[0]).toMatchObject({ action: 'rollback', actor: 'ops' });
  }, 45_000);

  it('Prometheus scrapes /metrics with its client certificate; a job without one is refused at the handshake', async () => {
    const targets = await waitFor('both jobs to be scraped', 30_000, async () => {
      const body = (await (await fetch(`${prometheusUrl}/api/v1/targets`)).json()) as { data: { activeTargets: Array<{ labels: { job: string }; health: string; lastError: string }> } };
      const byJob = Object.fromEntries(body.data.activeTargets.map((t) => [t.labels.job, t]));
      return byJob['switchyard']?.health === 'up' && byJob['no-client-cert']?.health === 'down' ? byJob : undefined;
    });
    expect(targets['no-client-cert']!.lastError).toMatch(/certificate required/);
  }, 45_000);
});
