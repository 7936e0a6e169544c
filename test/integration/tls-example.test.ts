import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleBackend, type SampleBackend } from '../../src/demo/sample-backend.js';
import { curl } from '../helpers/admin-tls.js';
import { cliAgainst } from '../helpers/cli.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';

/**
 * The TLS example of docs/tls.md ("A working example") as a reader runs it: config/tls/make-certs.sh makes
 * the demo certificates, `serve` reads config/tls-example.yaml (ports and
 * model addresses moved to free ones, certificate paths made absolute), and
 * curl and the CLI reach both ports over TLS with the demo CA.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let dir: string;
let gateway: ServeProcess;
let models: SampleBackend[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sy-tls-example-'));
  execFileSync('sh', [join(ROOT, 'config/tls/make-certs.sh'), join(dir, 'out')], { stdio: 'ignore' });
  models = await Promise.all([startSampleBackend({ version: 'v1' }), startSampleBackend({ version: 'v2' })]);
  const yaml = readFileSync(join(ROOT, 'config/tls-example.yaml'), 'utf8')
    .replaceAll('tls/out/', `${dir}/out/`)
    .replace('"0.0.0.0:8443"', '"127.0.0.1:0"')
    .replace('"127.0.0.1:8081"', '"127.0.0.1:0"')
    .replace('http://127.0.0.1:9001', models[0]!.url)
    .replace('http://127.0.0.1:9002', models[1]!.url);
  gateway = await startServeProcess(yaml);
});

afterAll(async () => {
  await gateway?.stop();
  await Promise.all((models ?? []).map((m) => m.close()));
});

const local = (url: string) => url.replace('127.0.0.1', 'localhost');

describe('the TLS example of docs/tls.md', () => {
  it('serves the proxy port over HTTPS to curl --cacert, with a Secure sticky cookie', async () => {
    expect(gateway.proxyUrl).toMatch(/^https:\/\//);
    const res = await curl(`${local(gateway.proxyUrl)}/fraud/score`, ['--cacert', join(dir, 'out/ca.pem'), '-i', '-d', '{"amount":12}']);
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/^x-model-version: v1\r$/im);
    expect(res.body).toMatch(/^set-cookie: sy_uid=[^;]+;.*; Secure\r$/im);
  });

  it('refuses a client that does not trust the demo CA', async () => {
    const res = await curl(`${local(gateway.proxyUrl)}/fraud/score`);
    expect(res.status).toBeNull();
    expect(res.exit).toBe(60);
  });

  it('answers the CLI over mutual TLS with the demo client certificate, and tells one without it what to pass', async () => {
    const { cli } = cliAgainst(() => local(gateway.adminUrl));
    const tls = { SWITCHYARD_ADMIN_CA: join(dir, 'out/ca.pem'), SWITCHYARD_ADMIN_CERT: join(dir, 'out/cli.pem'), SWITCHYARD_ADMIN_KEY: join(dir, 'out/cli-key.pem') };
    const ok = await cli(['status', 'fraud-scorer'], { ...tls, SWITCHYARD_ADMIN_TOKEN: 'dev-operator-token-change-me' });
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('fraud-scorer');
    const without = await cli(['status', 'fraud-scorer'], { SWITCHYARD_ADMIN_CA: tls.SWITCHYARD_ADMIN_CA, SWITCHYARD_ADMIN_TOKEN: 'dev-operator-token-change-me' });
    expect(without.code).toBe(3);
    expect(without.err).toContain('pass --cert and --key');
  });
});
