import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Agent, request } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Logger } from '../../src/app/logger.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { curl, portOf } from '../helpers/admin-tls.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { configYaml, startTestGateway } from '../helpers/gateway.js';
import { answered, get, type ClientOptions } from '../helpers/https-client.js';
import { makeTestCa, type Issued, type TestCa } from '../helpers/test-pki.js';

/**
 * The proxy port on TLS (`proxy.tls`), in one process with real clients: curl
 * with --cacert and node's https with the test CA (verification is never
 * turned off), certificates from a private CA made with openssl, and a plain
 * http:// model server behind. Which scheme the client used decides the
 * sticky cookie's Secure flag and X-Forwarded-Proto upstream; only the
 * listener and `proxy.trustedProxies` may say it, never the client.
 */

let ca: TestCa;
let strangerCa: TestCa;
let serverCert: Issued;
let clientCert: Issued;
let strangerCert: Issued;
let backend: TestBackend;

beforeAll(async () => {
  ca = makeTestCa('Proxy Listener CA');
  strangerCa = makeTestCa('Stranger CA');
  serverCert = ca.issue('gateway');
  clientCert = ca.issue('caller', { client: true });
  strangerCert = strangerCa.issue('stranger', { client: true });
  backend = await startBackend('v1');
});
afterAll(() => backend.close());

/** The test config with `proxy:` replaced by `proxy` (a YAML flow map). */
function proxyYaml(proxy: string, backendUrl = backend.url): string {
  return configYaml({ v1: [backendUrl] }).replace('proxy: { listen: "127.0.0.1:0" }', `proxy: ${proxy}`);
}

const tlsBlock = (extra = '') => `{ cert: "${serverCert.cert}", key: "${serverCert.key}"${extra} }`;

/** A logger that keeps every line, to show what a client's failure made the gateway say. */
function recordingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (obj: object, msg: string) => lines.push(`${level} ${msg} ${JSON.stringify(obj)}`);
  return { lines, log: { info: keep('info'), warn: keep('warn'), error: keep('error') } };
}

const stickyCookie = (headers: Record<string, unknown>): string | undefined => ((headers['set-cookie'] as string[] | undefined) ?? []).find((c) => c.startsWith('sy_uid='));
const lastProto = () => backend.seen.at(-1)?.headers['x-forwarded-proto'];
const serialOf = (pair: Issued) => new X509Certificate(pair.certPem).serialNumber;

let gateways: Gateway[] = [];
afterEach(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  gateways = [];
});

async function gatewayOn(proxy: string, log?: Logger): Promise<Gateway> {
  const gateway = await startTestGateway(proxyYaml(proxy), log === undefined ? {} : { log });
  gateways.push(gateway);
  return gateway;
}

describe('proxy.tls: the proxy port speaks HTTPS', () => {
  it('answers curl --cacert with 200 from a plain http backend; the sticky cookie is Secure and upstream hears https', async () => {
    const gateway = await gatewayOn(`{ listen: "127.0.0.1:0", tls: ${tlsBlock()} }`);
    expect(gateway.proxyUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const answer = await curl(`https://localhost:${portOf(gateway.proxyUrl)}/fraud/score`, ['--cacert', ca.caFile, '-D', '-', '-o', '/dev/null']);
    expect({ exit: answer.exit, status: answer.status }).toEqual({ exit: 0, status: 200 });
    const cookie = answer.body.split('\r\n').find((line) => line.toLowerCase().startsWith('set-cookie: sy_uid='));
    expect(cookie).toMatch(/; HttpOnly; SameSite=Lax; Secure$/);
    expect(lastProto()).toBe('https');
  });

  it('a client cannot set X-Forwarded-Proto; a trusted hop can, even to say http', async () => {
    const gateway = await gatewayOn(`{ listen: "127.0.0.1:0", tls: ${tlsBlock()}, trustedProxies: ["127.0.0.2"] }`);
    const client = answered(await get(`${gateway.proxyUrl}/fraud/a`, { ca: ca.caPem, headers: { 'x-forwarded-proto': 'http' } }));
    expect({ status: client.status, secure: stickyCookie(client.headers)?.endsWith('; Secure'), upstream: lastProto() }).toEqual({ status: 200, secure: true, upstream: 'https' });
    // A load balancer that took the request over plain HTTP and re-encrypts: the client's browser would drop a Secure cookie.
    const hop = answered(await get(`${gateway.proxyUrl}/fraud/b`, { ca: ca.caPem, headers: { 'x-forwarded-proto': 'http' }, localAddress: '127.0.0.2' }));
    expect({ status: hop.status, secure: stickyCookie(hop.headers)?.endsWith('; Secure'), upstream: lastProto() }).toEqual({ status: 200, secure: false, upstream: 'http' });
  });

  it('forwards a WebSocket upgrade over wss://', async () => {
    const gateway = await gatewayOn(`{ listen: "127.0.0.1:0", tls: ${tlsBlock()} }`);
    const ws = new WebSocket(`${gateway.proxyUrl.replace('https', 'wss')}/fraud/ws`, { ca: ca.caPem });
    await once(ws, 'open');
    ws.send('ping');
    const [reply] = (await once(ws, 'message')) as [Buffer];
    ws.close();
    expect(reply.toString()).toBe('v1:ping');
  });

  it('a failed handshake neither ends nor troubles the gateway, and it logs nothing about it', async () => {
    const { log, lines } = recordingLogger();
    const gateway = await gatewayOn(`{ listen: "127.0.0.1:0", tls: ${tlsBlock()} }`, log);
    const started = lines.length;
    const port = portOf(gateway.proxyUrl);
    const plain = await curl(`http://127.0.0.1:${port}/fraud/x`);
    expect(plain.status).toBeNull();
    // Node's own CA list does not know the test CA: the client refuses the certificate and resets.
    expect(await get(`${gateway.proxyUrl}/fraud/x`)).toEqual({ error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    for (const bytes of ['GET / HTTP/1.1\r\n\r\n', '\x16\x03\x01\x00\x05hello', '']) {
      const socket = connect(port, '127.0.0.1', () => socket.end(bytes));
      socket.on('error', () => undefined);
      // Read what comes back (a TLS alert, or nothing), so the gateway's close is seen.
      socket.resume();
      await once(socket, 'close');
    }
    expect(answered(await get(`${gateway.proxyUrl}/fraud/x`, { ca: ca.caPem })).status).toBe(200);
    expect(lines.slice(started)).toEqual([]);
  });

  it('minVersion TLSv1.3 refuses a TLS 1.2 client, still after the certificate is reloaded', async () => {
    const live = ca.issue('gateway-live');
    const gateway = await gatewayOn(`{ listen: "127.0.0.1:0", tls: { cert: "${live.cert}", key: "${live.key}", minVersion: TLSv1.3 } }`);
    const url = `${gateway.proxyUrl}/fraud/x`;
    expect(await get(url, { ca: ca.caPem, maxVersion: 'TLSv1.2' })).toEqual({ error: 'EPROTO' });
    expect(answered(await get(url, { ca: ca.caPem })).serial).toBe(serialOf(live));

    const next = ca.issue('gateway-next');
    writeFileSync(live.cert, next.certPem);
    writeFileSync(live.key, next.keyPem);
    expect(gateway.reloadTls()).toBe(1);
    expect(await get(url, { ca: ca.caPem, maxVersion: 'TLSv1.2' })).toEqual({ error: 'EPROTO' });
    expect(answered(await get(url, { ca: ca.caPem })).serial).toBe(serialOf(next));
  });
});

describe('X-Forwarded-Proto and the Secure cookie on a plain listener', () => {
  it('not Secure and http upstream; a trusted hop that says https makes it Secure, a client that says so does not', async () => {
    const gateway = await gatewayOn('{ listen: "127.0.0.1:0", trustedProxies: ["127.0.0.2/32"] }');
    expect(gateway.proxyUrl).toMatch(/^http:\/\//);
    const ask = async (o: ClientOptions) => {
      const answer = answered(await get(`${gateway.proxyUrl}/fraud/p`, o));
      return { status: answer.status, secure: stickyCookie(answer.headers)?.endsWith('; Secure'), upstream: lastProto() };
    };
    expect(await ask({})).toEqual({ status: 200, secure: false, upstream: 'http' });
    expect(await ask({ headers: { 'x-forwarded-proto': 'https' }, localAddress: '127.0.0.2' })).toEqual({ status: 200, secure: true, upstream: 'https' });
    expect(await ask({ headers: { 'x-forwarded-proto': 'https' } })).toEqual({ status: 200, secure: false, upstream: 'http' });
    expect(await ask({ headers: { 'x-forwarded-proto': 'https' }, localAddress: '127.0.0.3' })).toEqual({ status: 200, secure: false, upstream: 'http' });
  });
});

describe('X-Forwarded-Host', () => {
  it("is the Host the gateway matched unless a trusted hop says which host its client asked for", async () => {
    const gateway = await gatewayOn('{ listen: "127.0.0.1:0", trustedProxies: ["127.0.0.2/32"] }');
    const forwardedHost = async (o: ClientOptions) => {
      expect(answered(await get(`${gateway.proxyUrl}/fraud/h`, o)).status).toBe(200);
      return backend.seen.at(-1)?.headers['x-forwarded-host'];
    };
    const own = new URL(gateway.proxyUrl).host;
    expect(await forwardedHost({})).toBe(own);
    expect(await forwardedHost({ headers: { 'x-forwarded-host': 'admin.internal' } })).toBe(own);
    expect(await forwardedHost({ headers: { 'x-forwarded-host': 'admin.internal' }, localAddress: '127.0.0.3' })).toBe(own);
    expect(await forwardedHost({ headers: { 'x-forwarded-host': 'models.example.com' }, localAddress: '127.0.0.2' })).toBe('models.example.com');
  });
});

describe('proxy.tls.clientAuth', () => {
  const outcome = async (url: string, o: ClientOptions) => {
    const result = await get(url, { ca: ca.caPem, ...o });
    return 'error' in result ? 'no handshake' : result.status;
  };

  it('require: only a client with a certificate the CA signed gets through; the others fail their handshake quietly', async () => {
    const { log, lines } = recordingLogger();
    const gateway = await gatewayOn(`{ listen: "127.0.0.1:0", tls: ${tlsBlock(`, ca: "${ca.caFile}", clientAuth: require`)} }`, log);
    const started = lines.length;
    const url = `${gateway.proxyUrl}/fraud/m`;
    expect({
      none: await outcome(url, {}),
      stranger: await outcome(url, { cert: strangerCert.certPem, key: strangerCert.keyPem }),
      signed: await outcome(url, { cert: clientCert.certPem, key: clientCert.keyPem }),
    }).toEqual({ none: 'no handshake', stranger: 'no handshake', signed: 200 });
    expect(lines.slice(started)).toEqual([]);
  });

  it('optional: a client without a certificate gets through, one with an untrusted certificate is refused with 403', async () => {
    const gateway = await gatewayOn(`{ listen: "127.0.0.1:0", tls: ${tlsBlock(`, ca: "${ca.caFile}", clientAuth: optional`)} }`);
    const url = `${gateway.proxyUrl}/fraud/o`;
    const seenBefore = backend.seen.length;
    expect({ none: await outcome(url, {}), signed: await outcome(url, { cert: clientCert.certPem, key: clientCert.keyPem }) }).toEqual({ none: 200, signed: 200 });
    const refused = answered(await get(url, { ca: ca.caPem, cert: strangerCert.certPem, key: strangerCert.keyPem }));
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'SY_ERR_CLIENT_CERT', detail: expect.stringContaining('proxy.tls.ca') });
    expect(backend.seen.length - seenBefore).toBe(2);
  });
});

describe('a drain on the TLS listener', () => {
  /** A model server that holds requests to /fraud/slow until released, so one stays in flight through the drain; others it answers at once. */
  async function heldBackend(): Promise<{ url: string; held: () => number; release: () => void; close: () => Promise<void> }> {
    const waiting: Array<() => void> = [];
    const server = createServer((req, res) => {
      req.resume();
      const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"model":"v1"}');
      if (req.url === '/fraud/slow') waiting.push(answer);
      else answer();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      held: () => waiting.length,
      release: () => {
        for (const answer of waiting.splice(0)) answer();
      },
      close: () =>
        new Promise((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  }

  it('finishes the request in flight, then closes an idle keep-alive connection and one stuck before its handshake', async () => {
    const held = await heldBackend();
    const gateway = await startTestGateway(proxyYaml(`{ listen: "127.0.0.1:0", drainDelay: 0s, drainTimeout: 30s, tls: ${tlsBlock()} }`, held.url));
    const agent = new Agent({ keepAlive: true, ca: ca.caPem });
    try {
      const idle = await new Promise<Socket>((resolve, reject) => {
        const req = request(`${gateway.proxyUrl}/fraud/kept`, { agent }, (res) => {
          const socket = res.socket;
          res.resume();
          res.on('end', () => resolve(socket));
        });
        req.on('error', reject);
        req.end();
      });
      const stuck = connect(portOf(gateway.proxyUrl), '127.0.0.1');
      await once(stuck, 'connect');
      const inFlight = get(`${gateway.proxyUrl}/fraud/slow`, { ca: ca.caPem });
      await expect.poll(held.held, { timeout: 10_000 }).toBe(1);

      const drained = gateway.drain();
      held.release();
      await drained;
      expect(answered(await inFlight).status).toBe(200);
      const closed = (socket: Socket) => (socket.destroyed ? Promise.resolve() : once(socket, 'close').then(() => undefined));
      await Promise.all([closed(idle), closed(stuck)]);
    } finally {
      agent.destroy();
      await held.close();
    }
  });
});
