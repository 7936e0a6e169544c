import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { shadowSeries } from '../../src/core/shadow/series.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { deadPort, startBackend } from '../helpers/backends.js';
import { OPERATOR_TOKEN, startTestGateway } from '../helpers/gateway.js';
import { spawnServe, startServeProcess } from '../helpers/serve-process.js';
import { makeTestCa, type Issued, type TestCa } from '../helpers/test-pki.js';

/**
 * https:// targets, and mutual TLS to them: every backend here is a real TLS
 * server on 127.0.0.1 with certificates of a private CA made for this file.
 */

const SERVICE = 'fraud-scorer';
let cleanup: Array<() => Promise<unknown> | void> = [];
let pki: TestCa;
/** A CA the gateway is never told about. */
let stranger: TestCa;
/** The server certificate of most backends: signed by `pki`, for 127.0.0.1 and localhost. */
let serverCert: Issued;

beforeAll(() => {
  pki = makeTestCa('Switchyard Target CA');
  stranger = makeTestCa('Stranger CA');
  serverCert = pki.issue('model-server');
});

afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

interface TlsBackend {
  readonly url: string;
  readonly port: number;
  /** Handshakes the backend completed: one per new connection. */
  handshakes: number;
  /** Handshakes that resumed a session the gateway had cached. */
  resumed: number;
  /** The SNI name of each connection, false (or null) when none was sent. */
  readonly servernames: Array<string | false | null>;
  /** The CN of the client certificate of each request, null without one. */
  readonly clients: Array<string | null>;
  /** Requests answered that were shadow copies. */
  copies: number;
}

interface BackendOptions {
  /** Given which request of its connection this is (1 first), whether to drop the connection without an answer. */
  readonly drop?: (nth: number) => boolean;
}

/**
 * A model server over TLS answering `{backend, body}` with `x-backend`;
 * `/fraud/close` answers with `connection: close`, and WebSocket upgrades echo.
 */
async function tlsBackend(name: string, tls: ServerOptions, options: BackendOptions = {}): Promise<TlsBackend> {
  const backend = { handshakes: 0, resumed: 0, servernames: [], clients: [], copies: 0 } as unknown as TlsBackend & { url: string; port: number };
  const served = new WeakMap<Socket, number>();
  const server = createHttpsServer(tls, (req, res) => {
    const socket = req.socket as TLSSocket;
    const nth = (served.get(socket) ?? 0) + 1;
    served.set(socket, nth);
    if (options.drop?.(nth) === true) {
      socket.destroy();
      return;
    }
    const peer = socket.getPeerCertificate();
    backend.clients.push(typeof peer.subject?.CN === 'string' ? peer.subject.CN : null);
    if (req.headers['x-switchyard-shadow'] === '1') backend.copies++;
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-backend': name };
      if (req.url === '/fraud/close') headers.connection = 'close';
      res.writeHead(200, headers);
      res.end(JSON.stringify({ backend: name, body }));
    });
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    backend.handshakes++;
    if (socket.isSessionReused()) backend.resumed++;
    backend.servernames.push(socket.servername);
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`${name}:${data.toString()}`)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.port = (server.address() as AddressInfo).port;
  backend.url = `https://127.0.0.1:${backend.port}`;
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return backend;
}

const serverTls = (cert: Issued = serverCert): ServerOptions => ({ cert: cert.certPem, key: cert.keyPem });
/** A server that asks every client for a certificate `pki` signed and refuses a connection without one. */
const mutualTls = (): ServerOptions => ({ ...serverTls(), ca: pki.caPem, requestCert: true, rejectUnauthorized: true });

interface VersionSpec {
  readonly targets: readonly string[];
  /** The version's `tls` block. */
  readonly tls?: Record<string, string | boolean>;
}

interface ConfigOptions {
  /** More fields of the service, as indented YAML. */
  readonly extra?: string;
  readonly timeouts?: string;
  readonly logLevel?: string;
}

/** A config with the one service on /fraud, stable v1. Versions are written as JSON, YAML's flow style. */
function configYaml(versions: Record<string, VersionSpec>, { extra = '', timeouts = '{ connect: 2s, request: 5s }', logLevel = 'silent' }: ConfigOptions = {}): string {
  const lines = Object.entries(versions).map(([v, spec]) => `      ${v}: ${JSON.stringify(spec)}`);
  return `
proxy: { listen: "127.0.0.1:0" }
admin:
  listen: "127.0.0.1:0"
  tokens: [ { name: ops, token: "${OPERATOR_TOKEN}", role: operator } ]
log: { level: ${logLevel} }
services:
  ${SERVICE}:
    match: { pathPrefix: /fraud }
    stickiness: { header: x-user-id }
    timeouts: ${timeouts}
${extra}
    versions:
${lines.join('\n')}
    rollout: { stable: v1, strategy: canary, steps: [ { weight: 10, bake: 1m } ] }
`;
}

async function gateway(versions: Record<string, VersionSpec>, options: ConfigOptions = {}): Promise<Gateway> {
  const g = await startTestGateway(configYaml(versions, options));
  cleanup.push(() => g.close());
  return g;
}

interface Answer {
  readonly status: number;
  readonly version: string | null;
  readonly backend: string | null;
  readonly body: Record<string, unknown>;
}

async function send(proxyUrl: string, path = '/fraud/score', user = 'u1'): Promise<Answer> {
  const res = await fetch(`${proxyUrl}${path}`, { headers: { 'x-user-id': user } });
  return { status: res.status, version: res.headers.get('x-model-version'), backend: res.headers.get('x-backend'), body: (await res.json()) as Record<string, unknown> };
}

/** The sum of a metric's samples whose labels include `labels`. */
async function metric(adminUrl: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) && line.includes(labels)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/** Requests and errors of a window series (a version, or a shadow's series). */
async function windows(g: Gateway, series: string): Promise<{ requests: number; errors: number }> {
  await g.flusher.flush();
  const now = Date.now();
  const slices = (await g.store.readWindows(SERVICE, now - 60_000, now + 60_000, 1000)).filter((w) => w.version === series);
  return { requests: slices.reduce((n, w) => n + w.arm.requests, 0), errors: slices.reduce((n, w) => n + w.arm.errors, 0) };
}

async function allOnCandidate(g: Gateway): Promise<void> {
  await g.commands.run(SERVICE, { type: 'start', candidate: 'v2' }, { actor: 'test' });
  await g.commands.run(SERVICE, { type: 'set-weight', weightBp: 10_000 }, { actor: 'test' });
}

describe('https:// targets', () => {
  it('verified through tls.ca (a private CA) answer 200, without the client Host as SNI for an IP target', async () => {
    const v1 = await tlsBackend('v1', serverTls());
    const g = await gateway({ v1: { targets: [v1.url], tls: { ca: pki.caFile } } });
    const answer = await new Promise<{ status: number; version: string | undefined }>((resolve, reject) => {
      const req = httpRequest(`${g.proxyUrl}/fraud/score`, { headers: { host: 'models.example.test', 'x-user-id': 'u1' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, version: res.headers['x-model-version'] as string | undefined }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer).toEqual({ status: 200, version: 'v1' });
    expect(v1.servernames).toEqual([false]);
  });

  it('whose certificate the configured CA did not sign fail with 502 SY_ERR_UPSTREAM_TLS naming target and cause, counted as kind="tls"', async () => {
    const v1 = await tlsBackend('v1', serverTls());
    const g = await gateway({ v1: { targets: [v1.url], tls: { ca: stranger.caFile } } });
    const answer = await send(g.proxyUrl);
    expect(answer.status).toBe(502);
    expect(answer.body).toMatchObject({
      code: 'SY_ERR_UPSTREAM_TLS',
      service: SERVICE,
      version: 'v1',
      detail: `version v1 of service ${SERVICE} failed: ${v1.url}: TLS handshake failed: the certificate is not signed by a trusted CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`,
    });
    expect(await metric(g.adminUrl, 'switchyard_upstream_errors_total', `service="${SERVICE}",version="v1",kind="tls"`)).toBe(1);
    expect(await metric(g.adminUrl, 'switchyard_upstream_errors_total', `service="${SERVICE}",version="v1",kind="connect"`)).toBe(0);
    expect(await windows(g, 'v1')).toEqual({ requests: 1, errors: 1 });
  });

  it('are still verified against the roots alone without tls.ca: a private CA is not trusted by default', async () => {
    const v1 = await tlsBackend('v1', serverTls());
    const g = await gateway({ v1: { targets: [v1.url] } });
    const answer = await send(g.proxyUrl);
    expect(answer.status).toBe(502);
    expect(answer.body.detail).toMatch(/not signed by a trusted CA \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/);
  });

  it('send tls.serverName as SNI and verify that name; without it a certificate for another name is refused as a mismatch', async () => {
    const named = pki.issue('model-internal', { dns: ['model.internal'], ips: [] });
    const v1 = await tlsBackend('v1', serverTls(named));
    const withName = await gateway({ v1: { targets: [v1.url], tls: { ca: pki.caFile, serverName: 'model.internal' } } });
    expect(await send(withName.proxyUrl)).toMatchObject({ status: 200, version: 'v1' });
    expect(v1.servernames).toEqual(['model.internal']);

    const withoutName = await gateway({ v1: { targets: [v1.url], tls: { ca: pki.caFile } } });
    const refused = await send(withoutName.proxyUrl);
    expect(refused.status).toBe(502);
    expect(refused.body).toMatchObject({ code: 'SY_ERR_UPSTREAM_TLS' });
    expect(refused.body.detail).toBe(
      `version v1 of service ${SERVICE} failed: ${v1.url}: TLS handshake failed: the certificate does not name 127.0.0.1 (it names DNS:model.internal); set tls.serverName to a name it has (ERR_TLS_CERT_ALTNAME_INVALID)`,
    );
  });

  it('accept a self-signed certificate only with insecureSkipVerify: true', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-self-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'self.key', '-out', 'self.pem', '-days', '2', '-subj', '/CN=self-signed', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: dir, stdio: 'ignore' });
    const v1 = await tlsBackend('v1', { cert: readFileSync(join(dir, 'self.pem')), key: readFileSync(join(dir, 'self.key')) });
    const verified = await gateway({ v1: { targets: [v1.url] } });
    const refused = await send(verified.proxyUrl);
    expect(refused.status).toBe(502);
    expect(refused.body.detail).toMatch(/the certificate is self-signed and not trusted .*\(DEPTH_ZERO_SELF_SIGNED_CERT\)$/);
    const skipping = await gateway({ v1: { targets: [v1.url], tls: { insecureSkipVerify: true } } });
    expect(await send(skipping.proxyUrl)).toMatchObject({ status: 200, version: 'v1' });
  });

  it('with an expired certificate fail with 502 saying it expired', async () => {
    const v1 = await tlsBackend('v1', serverTls(pki.issue('expired-server', { days: -1 })));
    const g = await gateway({ v1: { targets: [v1.url], tls: { ca: pki.caFile } } });
    const answer = await send(g.proxyUrl);
    expect(answer.status).toBe(502);
    expect(answer.body).toMatchObject({ code: 'SY_ERR_UPSTREAM_TLS' });
    expect(answer.body.detail).toMatch(/: TLS handshake failed: the certificate has expired \(CERT_HAS_EXPIRED\)$/);
  });

  it('that are plain http servers fail as TLS failures saying so', async () => {
    const plain = await startBackend('plain');
    cleanup.push(() => plain.close());
    const g = await gateway({ v1: { targets: [plain.url.replace('http:', 'https:')] } });
    const answer = await send(g.proxyUrl);
    expect(answer.status).toBe(502);
    expect(answer.body.detail).toMatch(/does not speak TLS; is it a plain http:\/\/ server\? \(ERR_SSL_WRONG_VERSION_NUMBER\)$/);
  });

  it('that accept TCP but never finish the handshake fail within timeouts.connect', async () => {
    const silent: Server = createNetServer((socket) => cleanup.push(() => void socket.destroy()));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => silent.close(resolve)));
    const target = `https://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const g = await gateway({ v1: { targets: [target] } }, { timeouts: '{ connect: 300ms, request: 5s }' });
    const answer = await send(g.proxyUrl);
    expect(answer.status).toBe(504);
    expect(answer.body).toMatchObject({ code: 'SY_ERR_UPSTREAM_TIMEOUT', detail: `version v1 of service ${SERVICE} failed: no connection within 300 ms` });
  });
});

describe('mutual TLS to a target', () => {
  it('without a client certificate fails with 502 saying the target wanted one; with tls.cert and tls.key it answers, and the target saw the client', async () => {
    const client = pki.issue('gateway-one', { client: true });
    const v1 = await tlsBackend('v1', mutualTls());
    const without = await gateway({ v1: { targets: [v1.url], tls: { ca: pki.caFile } } });
    const refused = await send(without.proxyUrl);
    expect(refused.status).toBe(502);
    expect(refused.body).toMatchObject({ code: 'SY_ERR_UPSTREAM_TLS' });
    expect(refused.body.detail).toMatch(/requires a client certificate and none was sent .*\(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\)$/);

    const withCert = await gateway({ v1: { targets: [v1.url], tls: { ca: pki.caFile, cert: client.cert, key: client.key } } });
    expect(await send(withCert.proxyUrl)).toMatchObject({ status: 200, version: 'v1' });
    expect(v1.clients).toEqual(['gateway-one']);
  });

  it('presents a rotated client certificate on the next connection once the files are re-read, never resuming the old session', async () => {
    const [one, two] = [pki.issue('gateway-one', { client: true }), pki.issue('gateway-two', { client: true })];
    const dir = mkdtempSync(join(tmpdir(), 'sy-rotate-'));
    const certFile = join(dir, 'client.pem');
    const keyFile = join(dir, 'client.key');
    writeFileSync(certFile, one.certPem);
    writeFileSync(keyFile, one.keyPem);
    const v1 = await tlsBackend('v1', mutualTls());
    const g = await gateway({ v1: { targets: [v1.url], tls: { ca: pki.caFile, cert: certFile, key: keyFile } } });
    expect((await send(g.proxyUrl)).status).toBe(200);
    expect((await send(g.proxyUrl)).status).toBe(200);
    expect(v1.clients).toEqual(['gateway-one', 'gateway-one']);

    writeFileSync(certFile, two.certPem);
    writeFileSync(keyFile, two.keyPem);
    expect(g.reloadTls()).toBe(1);
    expect((await send(g.proxyUrl)).status).toBe(200);
    expect(v1.clients).toEqual(['gateway-one', 'gateway-one', 'gateway-two']);
    expect({ handshakes: v1.handshakes, resumed: v1.resumed }).toEqual({ handshakes: 2, resumed: 0 });
  });
});

describe('a candidate whose TLS fails', () => {
  it('falls back to an https stable, the failure counted against the candidate and its target ejected', async () => {
    const v1 = await tlsBackend('v1', serverTls());
    const v2 = await tlsBackend('v2', serverTls());
    // The service's CA serves v1; v2's own block wins, with a CA that did not sign v2's certificate.
    const g = await gateway(
      { v1: { targets: [v1.url] }, v2: { targets: [v2.url, `https://localhost:${v2.port}`], tls: { ca: stranger.caFile } } },
      { extra: `    tls: { ca: ${JSON.stringify(pki.caFile)} }\n    health: { failures: 1, cooldown: 1m }` },
    );
    await allOnCandidate(g);
    const answer = await send(g.proxyUrl);
    expect(answer).toMatchObject({ status: 200, version: 'v1', backend: 'v1' });
    expect(await metric(g.adminUrl, 'switchyard_fallbacks_total', 'from="v2",to="v1"')).toBe(1);
    expect(await metric(g.adminUrl, 'switchyard_upstream_errors_total', 'version="v2",kind="tls"')).toBe(1);
    expect(await metric(g.adminUrl, 'switchyard_upstream_errors_total', 'version="v1"')).toBe(0);
    expect(await metric(g.adminUrl, 'switchyard_target_ejections_total', 'version="v2"')).toBe(1);
    expect(await windows(g, 'v2')).toEqual({ requests: 1, errors: 1 });
    expect(v2.clients).toEqual([]);
  });
});

describe('connections to https:// targets', () => {
  it('are kept alive: 200 sequential requests cost a handful of handshakes, no more than 100 did', async () => {
    const v1 = await tlsBackend('v1', serverTls());
    const g = await gateway({ v1: { targets: [v1.url], tls: { ca: pki.caFile } } });
    for (let i = 0; i < 100; i++) expect((await send(g.proxyUrl)).status).toBe(200);
    const after100 = v1.handshakes;
    for (let i = 0; i < 100; i++) expect((await send(g.proxyUrl)).status).toBe(200);
    expect(after100).toBeGreaterThanOrEqual(1);
    expect(after100).toBeLessThanOrEqual(3);
    expect(v1.handshakes).toBeLessThanOrEqual(after100 + 1);
  });

  it('resume the TLS session of the last connection when a new one is opened', async () => {
    const v1 = await tlsBackend('v1', serverTls());
    const g = await gateway({ v1: { targets: [v1.url], tls: { ca: pki.caFile } } });
    expect((await send(g.proxyUrl, '/fraud/close')).status).toBe(200);
    expect((await send(g.proxyUrl, '/fraud/close')).status).toBe(200);
    expect({ handshakes: v1.handshakes, resumed: v1.resumed }).toEqual({ handshakes: 2, resumed: 1 });
  });

  it('that went stale are sent again on a fresh https connection, counted as a retry and not a failure', async () => {
    const v1 = await tlsBackend('v1', serverTls(), { drop: (nth) => nth > 1 });
    const g = await gateway({ v1: { targets: [v1.url], tls: { ca: pki.caFile } } });
    // 1 opens a connection the pool keeps; 2 goes out on it, is dropped and sent on a fresh one; 3 opens another; 4 is dropped on it.
    const answers = [await send(g.proxyUrl), await send(g.proxyUrl), await send(g.proxyUrl), await send(g.proxyUrl)];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(await metric(g.adminUrl, 'switchyard_upstream_retries_total', 'version="v1"')).toBe(2);
    expect(await metric(g.adminUrl, 'switchyard_upstream_errors_total', 'version="v1"')).toBe(0);
  });

  it('carry WebSocket upgrades', async () => {
    const v1 = await tlsBackend('v1', serverTls());
    const g = await gateway({ v1: { targets: [v1.url], tls: { ca: pki.caFile } } });
    const ws = new WebSocket(`${g.proxyUrl.replace('http:', 'ws:')}/fraud/ws`, { headers: { 'x-user-id': 'u1' } });
    cleanup.push(() => ws.terminate());
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('hello'));
      ws.on('message', (data) => resolve(data.toString()));
      ws.on('error', reject);
    });
    expect(echoed).toBe('v1:hello');
  });
});

describe('a shadow behind https', () => {
  const startShadow = (g: Gateway) => g.commands.run(SERVICE, { type: 'shadow', version: 'v2', sampleBp: 10_000 }, { actor: 'test', reason: 'dark launch' });

  it('gets its copies over TLS', async () => {
    const v1 = await startBackend('v1');
    cleanup.push(() => v1.close());
    const v2 = await tlsBackend('v2', serverTls());
    const g = await gateway({ v1: { targets: [v1.url] }, v2: { targets: [v2.url], tls: { ca: pki.caFile } } });
    await startShadow(g);
    for (let i = 0; i < 5; i++) expect(await send(g.proxyUrl, '/fraud/score', `u${i}`)).toMatchObject({ status: 200, version: 'v1' });
    await expect.poll(() => windows(g, shadowSeries('v2')), { timeout: 5_000 }).toEqual({ requests: 5, errors: 0 });
    expect(v2.copies).toBe(5);
  });

  it('whose certificate is not trusted fails every copy, never the client', async () => {
    const v1 = await startBackend('v1');
    cleanup.push(() => v1.close());
    const v2 = await tlsBackend('v2', serverTls());
    const g = await gateway({ v1: { targets: [v1.url] }, v2: { targets: [v2.url], tls: { ca: stranger.caFile } } });
    await startShadow(g);
    for (let i = 0; i < 5; i++) expect(await send(g.proxyUrl, '/fraud/score', `u${i}`)).toMatchObject({ status: 200, version: 'v1' });
    await expect.poll(() => windows(g, shadowSeries('v2')), { timeout: 5_000 }).toEqual({ requests: 5, errors: 5 });
    expect(v2.copies).toBe(0);
  });
});

describe('switchyard serve with an https:// target', () => {
  it('proxies over mutual TLS and presents the new client certificate after SIGHUP', async () => {
    const [one, two] = [pki.issue('gateway-one', { client: true }), pki.issue('gateway-two', { client: true })];
    const dir = mkdtempSync(join(tmpdir(), 'sy-serve-tls-'));
    const certFile = join(dir, 'client.pem');
    const keyFile = join(dir, 'client.key');
    writeFileSync(certFile, one.certPem);
    writeFileSync(keyFile, one.keyPem);
    const v1 = await tlsBackend('v1', mutualTls());
    const serve = await startServeProcess(configYaml({ v1: { targets: [v1.url], tls: { ca: pki.caFile, cert: certFile, key: keyFile } } }, { logLevel: 'info' }));
    cleanup.push(() => serve.stop());
    expect(await send(serve.proxyUrl)).toMatchObject({ status: 200, version: 'v1' });

    writeFileSync(certFile, two.certPem);
    writeFileSync(keyFile, two.keyPem);
    serve.child.kill('SIGHUP');
    await serve.waitForLog((e) => typeof e.msg === 'string' && e.msg.includes(`services.${SERVICE}.versions.v1.tls now serves the new material`));
    expect(await send(serve.proxyUrl)).toMatchObject({ status: 200, version: 'v1' });
    expect(v1.clients).toEqual(['gateway-one', 'gateway-two']);
  }, 60_000);

  // A config that does not load is a usage error of serve: exit 2 (src/cli/exit-codes.ts).
  it('exits 2 with one line naming the field and the file when the CA file is missing', async () => {
    const missing = join(mkdtempSync(join(tmpdir(), 'sy-missing-')), 'no-such-ca.pem');
    const run = spawnServe(configYaml({ v1: { targets: [`https://127.0.0.1:${await deadPort()}`], tls: { ca: missing } } }, { logLevel: 'info' }));
    cleanup.push(() => run.stop());
    expect(await run.exitWithin(30_000)).toBe(2);
    const lines = run.stderr().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^switchyard: .*config\.yaml is invalid: /);
    expect(lines[0]).toContain(`services.${SERVICE}.versions.v1.tls.ca (${missing}): file not found`);
  }, 60_000);
});
