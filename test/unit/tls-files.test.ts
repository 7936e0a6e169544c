import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { silentLogger } from '../../src/app/logger.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { isSwitchyardError } from '../../src/core/errors.js';
import { readServerMaterial } from '../../src/tls/read-pem.js';
import { targetTlsSettings } from '../../src/tls/target-settings.js';
import { TlsRegistry, tlsFileProblems } from '../../src/tls/tls-registry.js';
import { makeTestCa, type Issued, type TestCa } from '../helpers/test-pki.js';

let ca: TestCa;
let other: TestCa;
let server: Issued;
let expired: Issued;
let client: Issued;

beforeAll(() => {
  ca = makeTestCa('Unit CA');
  other = makeTestCa('Other CA');
  server = ca.issue('server');
  expired = ca.issue('old', { days: -1 });
  client = ca.issue('client', { client: true });
});

const SERVICES = (targets: string, tls = '') => `
services:
  fraud:
    match: { pathPrefix: /fraud }
    ${tls}
    versions:
      v1: { targets: ["${targets}"] }
      v2: { targets: ["https://127.0.0.1:9443"], tls: { serverName: model.internal } }
    rollout: { stable: v1 }
`;

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, {});
  } catch (err) {
    if (isSwitchyardError(err)) return (err.details?.['problems'] as string[]) ?? [];
    throw err;
  }
  return [];
}

describe('TLS in the config', () => {
  test('https:// targets are accepted; other schemes are named', () => {
    expect(problems(SERVICES('https://127.0.0.1:9001'))).toEqual([]);
    expect(problems(SERVICES('ftp://127.0.0.1:9001'))).toEqual(['services.fraud.versions.v1.targets[0]: only http:// and https:// targets are supported (got "ftp://127.0.0.1:9001")']);
  });

  test('a tls block without an https:// target is refused, and cert comes with key', () => {
    expect(problems(SERVICES('http://127.0.0.1:9001').replace('targets: ["https://127.0.0.1:9443"], ', 'targets: ["http://127.0.0.1:9443"], '))).toEqual([
      'services.fraud.versions.v2.tls: applies only to https:// targets, and this version has none',
    ]);
    expect(problems(SERVICES('http://127.0.0.1:9001', 'tls: { cert: /c.pem }'))).toEqual(['services.fraud.tls.key: cert needs key, the private key of the client certificate']);
  });

  test('listener clientAuth and ca come together; serverName must be a DNS name', () => {
    const yaml = `proxy: { tls: { cert: c.pem, key: k.pem, clientAuth: require } }\nadmin: { tls: { cert: c.pem, key: k.pem, ca: ca.pem } }\n${SERVICES('http://127.0.0.1:9001')}`;
    expect(problems(yaml).sort()).toEqual(['admin.tls.clientAuth: ca only verifies client certificates: set clientAuth to require or optional', 'proxy.tls.ca: clientAuth needs ca, the CA file that signs client certificates']);
    expect(problems(SERVICES('http://127.0.0.1:9001').replace('serverName: model.internal', 'serverName: 10.0.0.1'))[0]).toContain('an IP address is not sent as SNI');
  });

  test('trustedProxies takes addresses and CIDR blocks, and names a bad one', () => {
    expect(problems(`proxy: { trustedProxies: ["10.0.0.0/8", "127.0.0.1", "fd00::/8"] }\n${SERVICES('http://127.0.0.1:9001')}`)).toEqual([]);
    expect(problems(`proxy: { trustedProxies: ["10.0.0.0/33"] }\n${SERVICES('http://127.0.0.1:9001')}`)).toEqual([
      'proxy.trustedProxies[0]: not an IP address or CIDR block like 10.0.0.0/8 or fd00::/8',
    ]);
  });

  test("a version's fields win over its service's; cert and key are inherited together", () => {
    const config = parseConfig(SERVICES('https://127.0.0.1:9001', 'tls: { ca: /s/ca.pem, cert: /s/c.pem, key: /s/k.pem, minVersion: TLSv1.3 }'), {});
    const fraud = config.services['fraud']!;
    expect(targetTlsSettings('fraud', fraud, 'v2')).toEqual({
      field: 'services.fraud.versions.v2.tls',
      ca: { field: 'services.fraud.tls.ca', file: '/s/ca.pem' },
      cert: { field: 'services.fraud.tls.cert', file: '/s/c.pem' },
      key: { field: 'services.fraud.tls.key', file: '/s/k.pem' },
      serverName: 'model.internal',
      minVersion: 'TLSv1.3',
      insecureSkipVerify: false,
    });
    expect(targetTlsSettings('fraud', fraud, 'v1')?.serverName).toBeNull();
  });

  test('relative TLS paths are read from the config file directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-tlsconf-'));
    copyFileSync(server.cert, join(dir, 'proxy.pem'));
    copyFileSync(server.key, join(dir, 'proxy.key'));
    writeFileSync(join(dir, 'config.yaml'), `proxy: { tls: { cert: proxy.pem, key: proxy.key } }\n${SERVICES('http://127.0.0.1:9001').replace(', tls: { serverName: model.internal }', '').replace('https://127.0.0.1:9443', 'http://127.0.0.1:9443')}`);
    expect(loadConfig(join(dir, 'config.yaml'), {}).proxy.tls?.cert).toBe(join(dir, 'proxy.pem'));
  });
});

describe('reading PEM files', () => {
  const listener = (cert: string, key: string, extra: { ca?: string } = {}) =>
    readServerMaterial('proxy.tls', { cert, key, minVersion: 'TLSv1.2', ...(extra.ca === undefined ? {} : { ca: extra.ca, clientAuth: 'require' as const }) }, Date.now());

  test('a good pair gives its material and every certificate with its expiry', () => {
    const read = listener(server.cert, server.key, { ca: ca.caFile });
    expect(read.ok).toBe(true);
    if (!read.ok) return;
    expect(read.material.clientAuth).toBe('require');
    expect(read.certs.map((c) => [c.field, c.subject])).toEqual([
      ['proxy.tls.cert', 'CN=server'],
      ['proxy.tls.ca', 'CN=Unit CA'],
    ]);
    expect(read.certs[0]!.notAfterMs).toBeGreaterThan(Date.now());
  });

  test('each problem is one line naming the field, the file and the cause', () => {
    const missing = join(ca.dir, 'nowhere.pem');
    expect(listener(missing, server.key)).toEqual({ ok: false, problems: [`proxy.tls.cert (${missing}): file not found`] });
    expect(listener(server.cert, client.key)).toEqual({ ok: false, problems: [`proxy.tls.key (${client.key}): the key does not match the certificate in proxy.tls.cert (${server.cert})`] });
    const old = listener(expired.cert, expired.key);
    expect(old.ok ? [] : old.problems).toEqual([expect.stringMatching(new RegExp(`^proxy\\.tls\\.cert \\(${expired.cert}\\): the certificate expired on \\d{4}-`))]);
    expect(listener(server.key, server.key)).toEqual({ ok: false, problems: [`proxy.tls.cert (${server.key}): no PEM certificate in it (a "-----BEGIN CERTIFICATE-----" block)`] });
    expect(listener(server.cert, server.cert)).toMatchObject({ ok: false, problems: [expect.stringMatching(/^proxy\.tls\.key \(.*\): not a PEM private key/)] });
  });

  test('every bad TLS file is listed at once, a file two versions share once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-tlsconf-'));
    const yaml = `proxy: { tls: { cert: "${server.cert}", key: "${client.key}" } }\n${SERVICES('https://127.0.0.1:9001', `tls: { ca: "${join(dir, 'ca.pem')}" }`)}`;
    const config = parseConfig(yaml, {});
    expect(tlsFileProblems(config, Date.now())).toEqual([
      `proxy.tls.key (${client.key}): the key does not match the certificate in proxy.tls.cert (${server.cert})`,
      `services.fraud.tls.ca (${join(dir, 'ca.pem')}): file not found`,
    ]);
  });
});

describe('TlsRegistry', () => {
  function registryWith(dir: string) {
    copyFileSync(server.cert, join(dir, 'cert.pem'));
    copyFileSync(server.key, join(dir, 'key.pem'));
    const config = parseConfig(`proxy: { tls: { cert: cert.pem, key: key.pem } }\n${SERVICES('http://127.0.0.1:9001').replace(', tls: { serverName: model.internal }', '').replace('https://127.0.0.1:9443', 'http://127.0.0.1:9443')}`, {}, 'config', dir);
    return TlsRegistry.open(config, silentLogger);
  }

  test('a good new pair replaces the old and is announced; a bad one keeps the old', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-tlsreg-'));
    const registry = registryWith(dir);
    const seen: string[] = [];
    registry.onChange((bundle) => seen.push(bundle.proxy?.cert ?? ''));
    expect(registry.reload('test')).toBe(0);

    const next = ca.issue('server-next');
    copyFileSync(next.cert, join(dir, 'cert.pem'));
    expect(registry.reload('test')).toBe(0);
    expect(registry.current().proxy?.cert).toBe(server.certPem);

    copyFileSync(next.key, join(dir, 'key.pem'));
    expect(registry.reload('test')).toBe(1);
    expect(seen).toEqual([next.certPem]);
    expect(registry.certs().map((c) => c.subject)).toEqual(['CN=server-next']);
    registry.close();
  });

  test('files that are bad at start refuse the whole set-up with every problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-tlsreg-'));
    const config = parseConfig(`admin: { tls: { cert: "${join(dir, 'a.pem')}", key: "${join(dir, 'a.key')}" } }\n${SERVICES('http://127.0.0.1:9001').replace(', tls: { serverName: model.internal }', '').replace('https://127.0.0.1:9443', 'http://127.0.0.1:9443')}`, {});
    expect(() => TlsRegistry.open(config, silentLogger)).toThrow(`admin.tls.cert (${join(dir, 'a.pem')}): file not found`);
    expect(() => TlsRegistry.open(config, silentLogger)).toThrow(`admin.tls.key (${join(dir, 'a.key')}): file not found`);
  });

  test('a client certificate for targets comes with the extra CAs, and insecureSkipVerify turns verification off', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-tlsreg-'));
    const config = parseConfig(
      SERVICES('https://127.0.0.1:9001', `tls: { ca: "${other.caFile}", cert: "${client.cert}", key: "${client.key}" }`).replace('tls: { serverName: model.internal }', 'tls: { insecureSkipVerify: true }'),
      {},
      'config',
      dir,
    );
    const registry = TlsRegistry.open(config, silentLogger);
    const { targets } = registry.current();
    expect(targets['fraud/v1']).toMatchObject({ ca: [other.caPem], cert: client.certPem, verify: true, serverName: null });
    expect(targets['fraud/v2']).toMatchObject({ verify: false });
    registry.close();
  });
});
