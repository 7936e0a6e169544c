import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { admin, configYaml, startTestGateway } from '../helpers/gateway.js';

/**
 * SwitchyardTlsCertExpiringSoon asks a person to renew a certificate: the
 * committed Alertmanager config sends it to on-call, never to the gateway's
 * webhook, and the webhook would not roll anything back for it anyway. Its
 * firing and its `for` are tested by promtool in config/prometheus/alerts.test.yml
 * (run by compose.test.ts).
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ALERT = 'SwitchyardTlsCertExpiringSoon';

describe(`${ALERT} in the committed configs`, () => {
  it('is a ticket on the expiry metric minus time(), below 14 days', () => {
    const rules = parse(readFileSync(resolve(ROOT, 'config/prometheus/alerts.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string; labels?: Record<string, string> }> }>;
    };
    const rule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === ALERT);
    expect(rule?.expr.trim()).toBe('switchyard_tls_cert_expiry_seconds - time() < 14 * 86400');
    expect(rule?.labels).toEqual({ severity: 'ticket', team: 'ml-platform' });
  });

  it('Alertmanager sends it to on-call, never to the webhook that rolls back, even with a service label added by relabelling', () => {
    // amtool prints the receivers an alert with these labels reaches, comma-separated.
    const receivers = (labels: string[]): string[] => {
      const args = ['config', 'routes', 'test', '--config.file=config/alertmanager/alertmanager.yml', ...labels];
      const result = spawnSync('amtool', args, { cwd: ROOT, encoding: 'utf8', timeout: 15_000 });
      expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
      return result.stdout.trim().split(',');
    };
    const base = [`alertname=${ALERT}`, 'field=proxy.tls.cert', 'subject=CN=models.example.com', 'instance=gateway-1:8081', 'severity=ticket'];
    expect(receivers(base)).toEqual(['on-call']);
    expect(receivers([...base, 'service=fraud-scorer'])).toEqual(['on-call']);
  });
});

describe(`${ALERT} posted to the gateway's Alertmanager webhook`, () => {
  let backend: TestBackend;
  let gateway: Gateway;
  beforeAll(async () => {
    backend = await startBackend('v');
    gateway = await startTestGateway(configYaml({ v1: [backend.url], v2: [backend.url] }));
  });
  afterAll(async () => {
    await gateway.close();
    await backend.close();
  });

  it('is ignored: the rollout in progress goes on', async () => {
    expect((await admin(gateway, 'POST', '/api/v1/services/fraud-scorer/rollout', { candidate: 'v2' })).status).toBe(200);
    const alert = {
      status: 'firing',
      labels: { alertname: ALERT, field: 'proxy.tls.cert', file: '/etc/switchyard/tls/proxy.pem', subject: 'CN=models.example.com', instance: 'gateway-1:8081', severity: 'ticket' },
      annotations: { summary: 'proxy.tls.cert certificate CN=models.example.com on gateway-1:8081 expires in 13d 23h 44m 0s' },
      startsAt: '2026-11-25T12:00:00.000Z',
    };
    const res = await admin(gateway, 'POST', '/api/v1/alerts/alertmanager', { version: '4', status: 'firing', alerts: [alert] });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ results: [{ alert: ALERT, service: null, outcome: 'ignored', detail: 'no service label' }] });
    expect(gateway.routing.view('fraud-scorer')?.state).toMatchObject({ phase: 'progressing', candidate: 'v2' });
    // Relabelling (kube-prometheus adds `service` to every series) may give it a service it names.
    const relabelled = { ...alert, labels: { ...alert.labels, service: 'fraud-scorer' } };
    const again = await admin(gateway, 'POST', '/api/v1/alerts/alertmanager', { version: '4', status: 'firing', alerts: [relabelled] });
    expect(await again.json()).toEqual({
      results: [{ alert: ALERT, service: 'fraud-scorer', outcome: 'ignored', detail: 'a certificate to renew is for a person; it never rolls a release back' }],
    });
    expect(gateway.routing.view('fraud-scorer')?.state).toMatchObject({ phase: 'progressing', candidate: 'v2' });
  });
});
