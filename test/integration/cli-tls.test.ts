import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminTls } from '../../src/cli/admin-tls.js';
import { AdminClient } from '../../src/cli/api-client.js';
import { CliError, EXIT } from '../../src/cli/exit-codes.js';
import { tlsFetch } from '../../src/cli/tls-fetch.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { adminTlsYaml, makeAdminPki } from '../helpers/admin-tls.js';
import { cliAgainst, expectOneLine } from '../helpers/cli.js';
import { configYaml, startTestGateway } from '../helpers/gateway.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import type { Issued, TestCa } from '../helpers/test-pki.js';

/**
 * The switchyard CLI against a `switchyard serve` whose admin port is on TLS:
 * --ca, --cert and --key (or SWITCHYARD_ADMIN_CA/CERT/KEY) as operators pass
 * them, and the one line it prints when TLS stands in the way.
 */

let ca: TestCa;
let intruderCa: TestCa;
let server: Issued;
let client: Issued;
let intruder: Issued;

beforeAll(() => {
  ({ ca, intruderCa, server, client, intruder } = makeAdminPki('CLI TLS'));
});

describe('status over TLS', () => {
  let gw: ServeProcess;
  beforeAll(async () => {
    gw = await startServeProcess(adminTlsYaml(`{ cert: "${server.cert}", key: "${server.key}" }`));
  }, 40_000);
  afterAll(() => gw.stop());
  const { cli } = cliAgainst(() => gw.adminUrl);

  it('works with --ca, and with SWITCHYARD_ADMIN_CA', async () => {
    for (const [args, env] of [
      [['--ca', ca.caFile], {}],
      [[], { SWITCHYARD_ADMIN_CA: ca.caFile }],
    ] as const) {
      const res = await cli(['status', ...args], env);
      expect({ code: res.code, err: res.err }).toEqual({ code: EXIT.ok, err: '' });
      expect(res.out).toMatch(/fraud-scorer\s+stable\s+v1/);
    }
  });

  it('without a CA, says the certificate is not trusted and to pass --ca, exit 3', async () => {
    const res = await cli(['status']);
    expect(res.code).toBe(EXIT.unavailable);
    expectOneLine(res.err, `cannot reach the gateway at ${gw.adminUrl}: its certificate is not signed by a trusted CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE); pass --ca or set SWITCHYARD_ADMIN_CA`);
  });

  it('with a CA that did not sign it, names the file given', async () => {
    const res = await cli(['status', '--ca', intruderCa.caFile]);
    expect(res.code).toBe(EXIT.unavailable);
    expectOneLine(res.err, `its certificate is not signed by the CA in --ca ${intruderCa.caFile} (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`);
  });

  it('a flag wins over the environment', async () => {
    const res = await cli(['status', '--ca', ca.caFile], { SWITCHYARD_ADMIN_CA: intruderCa.caFile });
    expect(res.code).toBe(EXIT.ok);
  });

  it('an http:// URL to the TLS port suggests https://', async () => {
    const res = await cli(['status'], { SWITCHYARD_ADMIN_URL: gw.adminUrl.replace('https:', 'http:') });
    expect(res.code).toBe(EXIT.unavailable);
    expectOneLine(res.err, /the connection was closed without an answer \(\w+\); if its admin port has admin\.tls, use an https:\/\/ admin URL$/);
  });
});

describe('mutual TLS (clientAuth: require)', () => {
  let gw: ServeProcess;
  beforeAll(async () => {
    gw = await startServeProcess(adminTlsYaml(`{ cert: "${server.cert}", key: "${server.key}", ca: "${ca.caFile}", clientAuth: require }`));
  }, 40_000);
  afterAll(() => gw.stop());
  const { cli } = cliAgainst(() => gw.adminUrl);
  const mtls = () => ['--ca', ca.caFile, '--cert', client.cert, '--key', client.key];

  it('reads and writes with --cert and --key, and with the environment variables', async () => {
    const started = await cli(['start', 'fraud-scorer', 'v2', '--reason', 'over mutual TLS', ...mtls()]);
    expect({ code: started.code, err: started.err }).toEqual({ code: EXIT.ok, err: '' });
    expect(started.out).toContain('fraud-scorer: start done; phase progressing, stable v1, candidate v2 at 10%');
    const env = { SWITCHYARD_ADMIN_CA: ca.caFile, SWITCHYARD_ADMIN_CERT: client.cert, SWITCHYARD_ADMIN_KEY: client.key };
    const status = await cli(['status', 'fraud-scorer', '--json'], env);
    expect(status.code).toBe(EXIT.ok);
    expect(JSON.parse(status.out)).toMatchObject({ candidate: 'v2', weight: 10 });
    const rollback = await cli(['rollback', 'fraud-scorer', '--reason', 'done'], env);
    expect(rollback.code).toBe(EXIT.ok);
  });

  it('without a client certificate, says the gateway requires one and to pass --cert and --key', async () => {
    const res = await cli(['status', '--ca', ca.caFile]);
    expect(res.code).toBe(EXIT.unavailable);
    expectOneLine(
      res.err,
      `cannot reach the gateway at ${gw.adminUrl}: it requires a client certificate (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED); pass --cert and --key, or set SWITCHYARD_ADMIN_CERT and SWITCHYARD_ADMIN_KEY`,
    );
  });

  it('with a certificate another CA signed, says it may not be trusted', async () => {
    const res = await cli(['status', '--ca', ca.caFile, '--cert', intruder.cert, '--key', intruder.key]);
    expect(res.code).toBe(EXIT.unavailable);
    expectOneLine(res.err, `if the gateway requires client certificates, the one in --cert ${intruder.cert} is not signed by its admin.tls.ca`);
  });

  it('still needs the token: a certificate alone gets 401 with the token hint, exit 1', async () => {
    const res = await cli(['status', ...mtls()], { SWITCHYARD_ADMIN_TOKEN: undefined });
    expect(res.code).toBe(EXIT.refused);
    expectOneLine(res.err, '(SY_ERR_UNAUTHENTICATED); pass --token or set SWITCHYARD_ADMIN_TOKEN');
  });

  it("reports the API's 404 through the TLS transport as before", async () => {
    const res = await cli(['status', 'nope', ...mtls()]);
    expect(res.code).toBe(EXIT.refused);
    expectOneLine(res.err, 'no service named nope (services: fraud-scorer) (SY_ERR_UNKNOWN_SERVICE)');
  });
});

describe('clientAuth: optional', () => {
  let gw: ServeProcess;
  beforeAll(async () => {
    gw = await startServeProcess(adminTlsYaml(`{ cert: "${server.cert}", key: "${server.key}", ca: "${ca.caFile}", clientAuth: optional }`));
  }, 40_000);
  afterAll(() => gw.stop());
  const { cli } = cliAgainst(() => gw.adminUrl);

  it('works without a certificate, and a foreign one is refused with the gateway\'s 403, exit 1', async () => {
    expect((await cli(['status', '--ca', ca.caFile])).code).toBe(EXIT.ok);
    const res = await cli(['status', '--ca', ca.caFile, '--cert', intruder.cert, '--key', intruder.key]);
    expect(res.code).toBe(EXIT.refused);
    expectOneLine(res.err, 'the client certificate did not verify against admin.tls.ca (UNABLE_TO_VERIFY_LEAF_SIGNATURE); send a certificate that CA signed, or none (SY_ERR_CLIENT_CERT)');
  });
});

describe('an https:// URL to a plain-HTTP admin port', () => {
  let plain: Gateway;
  beforeAll(async () => {
    plain = await startTestGateway(configYaml({ v1: ['http://127.0.0.1:9'] }));
  });
  afterAll(() => plain.close());
  const { cli } = cliAgainst(() => plain.adminUrl.replace('http:', 'https:'));

  it('says the port does not answer TLS, with or without a CA', async () => {
    for (const args of [[], ['--ca', ca.caFile]]) {
      const res = await cli(['status', ...args]);
      expect(res.code).toBe(EXIT.unavailable);
      expectOneLine(res.err, /: it does not answer TLS on that port \(\w+\); if its admin port has no admin\.tls, use an http:\/\/ admin URL$/);
    }
  });
});

describe('TLS settings the CLI refuses before calling', () => {
  const { expectUsageErrors } = cliAgainst(() => 'https://127.0.0.1:9');

  it('exits 2 with one line naming the option and the file', async () => {
    await expectUsageErrors([
      [['status', '--ca', '/nonexistent/ca.pem'], '--ca: cannot read /nonexistent/ca.pem: file not found'],
      [['status', '--cert', client.cert], '--cert needs --key (or SWITCHYARD_ADMIN_KEY): the private key of the client certificate'],
      [['status', '--key', client.key], '--key needs --cert (or SWITCHYARD_ADMIN_CERT): the client certificate of that key'],
      [['status', '--cert', client.cert, '--key', '/nonexistent/k.pem'], '--key: cannot read /nonexistent/k.pem: file not found'],
      [['status', '--ca', client.key], `--ca: ${client.key} holds no PEM certificate`],
      [['status', '--cert', client.cert, '--key', intruder.key], `--cert (${client.cert}) and --key (${intruder.key}): OpenSSL refused them: `],
      [['status', '--admin-url', 'http://127.0.0.1:9', '--ca', ca.caFile], '--ca: TLS settings need an https:// admin URL (got http://127.0.0.1:9)'],
    ]);
  });

  it('names the environment variable when the file came from there', async () => {
    const { cli } = cliAgainst(() => 'https://127.0.0.1:9');
    const res = await cli(['status'], { SWITCHYARD_ADMIN_CA: '/nonexistent/ca.pem' });
    expect(res.code).toBe(EXIT.usage);
    expectOneLine(res.err, 'SWITCHYARD_ADMIN_CA: cannot read /nonexistent/ca.pem: file not found');
  });
});

describe('the TLS transport', () => {
  let silent: Server;
  beforeAll(async () => {
    // Takes the connection and the request, and never answers.
    silent = createServer({ cert: server.certPem, key: server.keyPem }, () => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => {
    silent.closeAllConnections();
    silent.close();
  });

  it('gives up when the answer does not come in time, as fetch does', async () => {
    const url = `https://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const tls = adminTls({ ca: ca.caFile }, {}, url);
    if (tls === null) throw new Error('no TLS settings');
    const client = new AdminClient({ adminUrl: url, token: 't', fetch: tlsFetch(tls), timeoutMs: 200 });
    const failure = await client.get('/services').catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(CliError);
    expect(failure).toMatchObject({ exitCode: EXIT.unavailable, message: `cannot reach the gateway at ${url}: no answer in time` });
  });
});
