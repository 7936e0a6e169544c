import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminTlsYaml, curl, makeAdminPki, portOf, servedSerial } from '../helpers/admin-tls.js';
import { OPERATOR_TOKEN } from '../helpers/gateway.js';
import { PACKAGE_VERSION } from '../helpers/package-version.js';
import { spawnServe, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import type { Issued, TestCa } from '../helpers/test-pki.js';

/**
 * The admin port on TLS, as operators reach it: a real `switchyard serve`,
 * curl with --cacert/--cert/--key and openssl s_client, certificates from a
 * private CA made with openssl. Mutual TLS is a second lock beside the bearer
 * token, never instead of it.
 */

let ca: TestCa;
let server: Issued;
let client: Issued;
let intruder: Issued;

beforeAll(() => {
  ({ ca, server, client, intruder } = makeAdminPki('Admin TLS'));
});

const bearer = ['-H', `authorization: Bearer ${OPERATOR_TOKEN}`];
const cacert = () => ['--cacert', ca.caFile];
const withCert = (pair: Issued) => ['--cert', pair.cert, '--key', pair.key];
const serialOf = (pair: Issued) => new X509Certificate(pair.certPem).serialNumber;
/** localhost is in the certificate's names; curl then checks the name, not only the chain. */
const at = (gw: ServeProcess, path: string) => `https://localhost:${portOf(gw.adminUrl)}${path}`;

describe.each([1, 2])('admin.tls without client certificates (%i worker(s))', (workers) => {
  let gw: ServeProcess;
  beforeAll(async () => {
    gw = await startServeProcess(adminTlsYaml(`{ cert: "${server.cert}", key: "${server.key}" }`), ['--workers', String(workers)]);
  }, 40_000);
  afterAll(() => gw.stop());

  it('logs an https:// admin URL; curl with --cacert gets /healthz, without it refuses the certificate', async () => {
    expect(gw.adminUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await curl(at(gw, '/healthz'), cacert())).toMatchObject({ exit: 0, status: 200, body: JSON.stringify({ status: 'ok', version: PACKAGE_VERSION }) });
    const untrusted = await curl(at(gw, '/healthz'));
    expect(untrusted).toMatchObject({ exit: 60, status: null });
    expect(untrusted.stderr).toMatch(/unable to get local issuer certificate/);
  });

  it('still needs the bearer token under /api/v1, and /metrics and /readyz still do not', async () => {
    expect((await curl(at(gw, '/api/v1/services'), cacert())).status).toBe(401);
    const services = await curl(at(gw, '/api/v1/services'), [...cacert(), ...bearer]);
    expect(services.status).toBe(200);
    expect(JSON.parse(services.body)).toMatchObject({ services: [{ service: 'fraud-scorer' }] });
    expect((await curl(at(gw, '/metrics'), cacert())).status).toBe(200);
    expect((await curl(at(gw, '/readyz'), cacert())).status).toBe(200);
  });

  it('answers plain HTTP on the admin port with nothing', async () => {
    const plain = await curl(`http://127.0.0.1:${portOf(gw.adminUrl)}/healthz`);
    expect(plain.status).toBeNull();
    expect(plain.exit).not.toBe(0);
  });
});

describe('admin.tls with clientAuth: require', () => {
  let gw: ServeProcess;
  beforeAll(async () => {
    gw = await startServeProcess(adminTlsYaml(`{ cert: "${server.cert}", key: "${server.key}", ca: "${ca.caFile}", clientAuth: require }`));
  }, 40_000);
  afterAll(() => gw.stop());

  it('fails the handshake of a client without a certificate, even on /healthz', async () => {
    const none = await curl(at(gw, '/healthz'), cacert());
    expect(none.status).toBeNull();
    expect(none.exit).not.toBe(0);
    expect(none.stderr).toMatch(/alert certificate required/);
  });

  it('fails a client whose certificate another CA signed', async () => {
    const forged = await curl(at(gw, '/api/v1/services'), [...cacert(), ...withCert(intruder), ...bearer]);
    expect(forged.status).toBeNull();
    expect(forged.exit).not.toBe(0);
  });

  it('serves a client certificate the CA signed, with the token; without the token it is still 401', async () => {
    const both = await curl(at(gw, '/api/v1/services'), [...cacert(), ...withCert(client), ...bearer]);
    expect(both.status).toBe(200);
    expect(JSON.parse(both.body)).toMatchObject({ services: [{ service: 'fraud-scorer' }] });
    const certOnly = await curl(at(gw, '/api/v1/services'), [...cacert(), ...withCert(client)]);
    expect(certOnly.status).toBe(401);
    expect(JSON.parse(certOnly.body)).toMatchObject({ code: 'SY_ERR_UNAUTHENTICATED' });
    expect((await curl(at(gw, '/healthz'), [...cacert(), ...withCert(client)])).status).toBe(200);
  });
});

describe('admin.tls with clientAuth: optional', () => {
  let gw: ServeProcess;
  beforeAll(async () => {
    gw = await startServeProcess(adminTlsYaml(`{ cert: "${server.cert}", key: "${server.key}", ca: "${ca.caFile}", clientAuth: optional }`));
  }, 40_000);
  afterAll(() => gw.stop());

  it('serves a client without a certificate as before: the token decides', async () => {
    expect((await curl(at(gw, '/api/v1/services'), [...cacert(), ...bearer])).status).toBe(200);
    expect((await curl(at(gw, '/api/v1/services'), cacert())).status).toBe(401);
    expect((await curl(at(gw, '/healthz'), cacert())).status).toBe(200);
    expect((await curl(at(gw, '/api/v1/services'), [...cacert(), ...withCert(client), ...bearer])).status).toBe(200);
  });

  it('refuses a certificate another CA signed with 403 SY_ERR_CLIENT_CERT naming the cause, on every path', async () => {
    for (const path of ['/api/v1/services', '/healthz', '/metrics']) {
      const forged = await curl(at(gw, path), [...cacert(), ...withCert(intruder), ...bearer, '-H', 'accept: application/json']);
      expect(forged.status, path).toBe(403);
      expect(JSON.parse(forged.body), path).toMatchObject({
        code: 'SY_ERR_CLIENT_CERT',
        title: 'Client certificate not trusted',
        detail: 'the client certificate did not verify against admin.tls.ca (UNABLE_TO_VERIFY_LEAF_SIGNATURE); send a certificate that CA signed, or none',
      });
    }
    const head = await curl(at(gw, '/api/v1/services'), [...cacert(), ...withCert(intruder), ...bearer, '-o', '/dev/null', '-D', '-']);
    expect(head.body).toMatch(/content-type: application\/problem\+json/i);
  });

  it('refuses an expired client certificate of the right CA, naming the expiry', async () => {
    const expired = ca.issue('expired-operator', { client: true, days: -1 });
    const old = await curl(at(gw, '/api/v1/services'), [...cacert(), ...withCert(expired), ...bearer]);
    expect(old.status).toBe(403);
    expect(JSON.parse(old.body).detail).toContain('(CERT_HAS_EXPIRED)');
  });
});

describe('admin certificate rotation', () => {
  it('a new certificate and key are served from the next handshake after SIGHUP (the serial changes)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-admin-tls-'));
    const cert = join(dir, 'admin.pem');
    const key = join(dir, 'admin.key');
    copyFileSync(server.cert, cert);
    copyFileSync(server.key, key);
    const gw = await startServeProcess(adminTlsYaml(`{ cert: "${cert}", key: "${key}" }`));
    try {
      const port = portOf(gw.adminUrl);
      const before = await servedSerial(port, ca.caFile);
      const renewed = ca.issue('admin-renewed');
      copyFileSync(renewed.key, key);
      copyFileSync(renewed.cert, cert);
      gw.child.kill('SIGHUP');
      // The handler logs once the files are re-read (the file watcher may have read them first: then SIGHUP finds nothing new).
      await gw.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('SIGHUP: TLS files re-read'));
      const after = await servedSerial(port, ca.caFile);
      expect({ before, after }).toEqual({ before: serialOf(server), after: serialOf(renewed) });
      expect(gw.logs.some((l) => typeof l.msg === 'string' && /^TLS reload \((SIGHUP|file change)\): admin\.tls now serves the new material$/.test(l.msg))).toBe(true);
      expect((await curl(`https://localhost:${port}/healthz`, cacert())).status).toBe(200);
    } finally {
      await gw.stop();
    }
  }, 40_000);
});

describe('serve with a missing admin.tls.cert', () => {
  it('exits 2, a config error, with one line naming admin.tls.cert, the file and "file not found"', async () => {
    const missing = join(mkdtempSync(join(tmpdir(), 'sy-admin-tls-')), 'admin.pem');
    const run = spawnServe(adminTlsYaml(`{ cert: "${missing}", key: "${server.key}" }`));
    try {
      expect(await run.exitWithin(20_000)).toBe(2);
      const lines = run.stderr().trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^switchyard: .*config\\.yaml is invalid: admin\\.tls\\.cert \\(${missing.replace(/[.]/g, '\\.')}\\): file not found$`));
    } finally {
      await run.stop();
    }
  }, 40_000);
});
