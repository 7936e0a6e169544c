import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portOf } from '../helpers/admin-tls.js';
import { deadPort, startBackend, type TestBackend } from '../helpers/backends.js';
import {
  answerMeta,
  deadlineIn,
  first,
  gatewayYaml,
  kserveFixture,
  metric,
  metricReaches,
  targetOf,
  until,
  type CallResult,
  type ModelInferResponse,
} from '../helpers/grpc.js';
import { startServeProcess, workerPids, type ServeProcess } from '../helpers/serve-process.js';
import { makeTestCa, type Issued, type TestCa } from '../helpers/test-pki.js';

/**
 * gRPC to https:// targets that fail their TLS handshake, `serve --workers 2`
 * serving gRPC and HTTP/1.1 on one port, and a SIGHUP rotation of the proxy
 * port's certificate under HTTP/2 clients, with real grpc-js clients and
 * models on 127.0.0.1. Outcomes and counts are asserted, never durations.
 */

const SERVICE = 'kserve';
const { cleanup, spec: kserveSpec, model, gateway, client, infer } = kserveFixture(SERVICE);


let ca: TestCa;
/** A CA the gateway is never told about. */
let strangerCa: TestCa;
beforeAll(() => {
  ca = makeTestCa('gRPC TLS CA');
  strangerCa = makeTestCa('gRPC Stranger CA');
});

describe('TLS to gRPC targets', () => {
  /** A certificate the gateway refuses for an https:// model, the YAML lines that go with it, and the cause the client is told. */
  const refusals = [
    ['no tls.ca: its CA is not trusted', () => strangerCa.issue('model'), [] as string[], 'the certificate is not signed by a trusted CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE)'],
    ['an expired certificate', () => ca.issue('model', { days: -1 }), ['tls: { ca: CA_FILE }'], 'the certificate has expired (CERT_HAS_EXPIRED)'],
  ] as const;

  it.each(refusals)('a target with %s: the client gets UNAVAILABLE saying the handshake failed and why, counted as kind tls', async (_, issue, extra, why) => {
    const cert: Issued = issue();
    const v1 = await model('v1', { tls: { certPem: cert.certPem, keyPem: cert.keyPem } });
    const g = await gateway({ v1: [v1.url] }, extra.map((line) => line.replace('CA_FILE', `"${ca.caFile}"`)));
    const c = client(targetOf(g.proxyUrl));
    // Calls that wait together on one new connection, then one more on the next.
    const together = await Promise.all(Array.from({ length: 4 }, (_, i) => infer(c, { 'x-user-id': `u${i}`, 'x-request-id': `tls-${i}` })));
    const next = await infer(c, { 'x-user-id': 'u9', 'x-request-id': 'tls-9' });
    const answers = [...together, next];
    expect(answers.map((a) => a.code)).toEqual(Array(5).fill(grpc.status.UNAVAILABLE));
    for (const [i, a] of answers.entries()) {
      const id = i === 4 ? 'tls-9' : `tls-${i}`;
      expect(a.details).toBe(`version v1 of service ${SERVICE} failed: ${v1.url}: TLS handshake failed: ${why} (request id ${id})`);
      expect(answerMeta(a, 'x-model-version')).toBe('v1');
    }
    expect(v1.calls).toHaveLength(0);
    const text = await metricReaches(g.adminUrl, 'switchyard_upstream_errors_total', [`service="${SERVICE}"`, 'version="v1"', 'kind="tls"'], 5);
    expect(metric(text, 'switchyard_upstream_errors_total', ['kind="connect"'])).toBe(0);
    expect(metric(text, 'switchyard_grpc_calls_total', ['version="v1"', 'code="UNAVAILABLE"'])).toBe(5);
  });

  it('a target that refuses the connection: UNAVAILABLE naming ECONNREFUSED, counted as kind connect', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const g = await gateway({ v1: [dead] });
    const a = await infer(client(targetOf(g.proxyUrl)), { 'x-user-id': 'u1', 'x-request-id': 'refused-1' });
    expect({ code: a.code, details: a.details }).toEqual({ code: grpc.status.UNAVAILABLE, details: `version v1 of service ${SERVICE} failed: ${dead}: ECONNREFUSED (request id refused-1)` });
    await metricReaches(g.adminUrl, 'switchyard_upstream_errors_total', [`service="${SERVICE}"`, 'version="v1"', 'kind="connect"'], 1);
  });

  it("falls back to stable when the candidate's certificate is not trusted: clients get stable's OK, the candidate's TLS failures are counted", async () => {
    const cert = strangerCa.issue('model');
    const [v1, v2] = await Promise.all([model('v1'), model('v2', { tls: { certPem: cert.certPem, keyPem: cert.keyPem } })]);
    const g = await gateway({ v1: [v1.url], v2: [v2.url] });
    await g.commands.run(SERVICE, { type: 'start', candidate: 'v2' }, { actor: 'test' });
    await g.commands.run(SERVICE, { type: 'set-weight', weightBp: 10_000 }, { actor: 'test' });
    await until(() => g.routing.view(SERVICE)?.state.weightBp === 10_000, 'the gateway routing on weight 100 %');
    const c = client(targetOf(g.proxyUrl));
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => infer(c, { 'x-user-id': `u${i}` }, { id: `id-${i}` })));
    expect(answers.map((a) => [a.code, first(a.headers, 'x-model-version'), a.response?.id])).toEqual(answers.map((_, i) => [grpc.status.OK, 'v1', `id-${i}`]));
    expect(v1.callsTo('ModelInfer')).toHaveLength(8);
    expect(v2.calls).toHaveLength(0);
    const text = await metricReaches(g.adminUrl, 'switchyard_fallbacks_total', [`service="${SERVICE}"`, 'from="v2"', 'to="v1"'], 8);
    expect(metric(text, 'switchyard_upstream_errors_total', ['version="v2"', 'kind="tls"'])).toBe(8);
  });
});

describe('serve --workers 2 with a gRPC service', () => {
  let http: TestBackend;
  beforeAll(async () => {
    http = await startBackend('v1');
  });
  afterAll(() => http.close());

  /** One HTTP/1.1 request on a fresh connection, so node:cluster hands it to the next worker in turn. */
  function post(base: string, user: string): Promise<{ status: number; version: string }> {
    return new Promise((resolve, reject) => {
      const req = request(`${base}/fraud/score`, { method: 'POST', headers: { 'x-user-id': user, connection: 'close' }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, version: String(res.headers['x-model-version']) }));
      });
      req.setTimeout(15_000, () => req.destroy(new Error(`no answer for ${user}`)));
      req.on('error', reject);
      req.end('{"amount":1}');
    });
  }

  it('serves many gRPC calls from several channels and HTTP/1.1 requests on one port, both workers taking calls; SIGTERM exits 0', async () => {
    const v1 = await model('v1');
    const yaml = gatewayYaml([kserveSpec({ v1: [v1.url] }), { name: 'fraud-scorer', pathPrefix: '/fraud', protocol: 'http', versions: { v1: [http.url] } }], {
      logLevel: 'info',
      proxy: '{ listen: "127.0.0.1:0", accessLog: true, drainDelay: 0s, drainTimeout: 10s }',
    });
    const gw = await startServeProcess(yaml, ['--workers', '2']);
    cleanup.defer(() => gw.stop());
    expect(workerPids(gw.child.pid!)).toHaveLength(2);
    const target = targetOf(gw.proxyUrl);

    const CHANNELS = 8;
    const CALLS = 12;
    // A channel of its own each (no shared subchannel pool): one connection each, dealt to the workers in turn.
    const channels = Array.from({ length: CHANNELS }, () => client(target, undefined, { 'grpc.use_local_subchannel_pool': 1 }));
    // The connections are made one at a time, so node:cluster deals them to the workers in turn; then every channel calls at once, beside HTTP/1.1 clients.
    const firsts: Array<CallResult<ModelInferResponse>> = [];
    for (const [ch, c] of channels.entries()) firsts.push(await infer(c, { 'x-user-id': `c${ch}-u0`, 'x-request-id': `w-${ch}-0` }, { id: `${ch}-0` }));
    const [rest, plain] = await Promise.all([
      Promise.all(channels.flatMap((c, ch) => Array.from({ length: CALLS - 1 }, (_, j) => infer(c, { 'x-user-id': `c${ch}-u${j + 1}`, 'x-request-id': `w-${ch}-${j + 1}` }, { id: `${ch}-${j + 1}` })))),
      Promise.all(Array.from({ length: 20 }, (_, i) => post(gw.proxyUrl, `h${i}`))),
    ]);
    const calls = [...firsts, ...rest];
    expect(calls.filter((a) => a.code !== grpc.status.OK || a.response?.model_version !== 'v1').map((a) => `${a.code} ${a.details}`)).toEqual([]);
    expect(calls.map((a) => a.response?.id)).toEqual([...channels.map((_, ch) => `${ch}-0`), ...channels.flatMap((_, ch) => Array.from({ length: CALLS - 1 }, (__, j) => `${ch}-${j + 1}`))]);
    expect(plain).toEqual(Array(20).fill({ status: 200, version: 'v1' }));
    expect(v1.callsTo('ModelInfer')).toHaveLength(CHANNELS * CALLS);

    // Each worker's counts reach the primary's /metrics.
    await metricReaches(gw.adminUrl, 'switchyard_grpc_calls_total', [`service="${SERVICE}"`, 'code="OK"'], CHANNELS * CALLS);
    await until(() => gw.logs.filter((l) => l.msg === 'call').length === CHANNELS * CALLS, 'an access log line per call');
    const byWorker = new Set(gw.logs.filter((l) => l.msg === 'call').map((l) => l.worker));
    expect(byWorker.size).toBe(2);

    gw.child.kill('SIGTERM');
    expect(await gw.exitWithin(30_000)).toBe(0);
    expect(gw.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
  }, 90_000);
});

describe('rotating the proxy port certificate under HTTP/2 clients', () => {
  /** The serial of the certificate a new TLS connection that asks for h2 is shown, and the protocol it got. */
  function handshake(port: number): Promise<{ serial: string; alpn: string | false | null }> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.caPem, ALPNProtocols: ['h2'] }, () => {
        const serial = socket.getPeerX509Certificate()?.serialNumber ?? 'none';
        resolve({ serial, alpn: socket.alpnProtocol });
        socket.destroy();
      });
      socket.once('error', reject);
    });
  }

  it('after new files and SIGHUP, a new channel handshakes with the new certificate and an open channel keeps working', async () => {
    const v1 = await model('v1');
    const live = ca.issue('gateway');
    const gw: ServeProcess = await startServeProcess(
      gatewayYaml([kserveSpec({ v1: [v1.url] })], { logLevel: 'info', proxy: `{ listen: "127.0.0.1:0", tls: { cert: "${live.cert}", key: "${live.key}" } }` }),
    );
    cleanup.defer(() => gw.stop());
    const port = portOf(gw.proxyUrl);
    const credentials = () => grpc.credentials.createSsl(Buffer.from(ca.caPem));
    const serialOf = (pair: Issued) => new X509Certificate(pair.certPem).serialNumber;

    const open = client(`127.0.0.1:${port}`, credentials());
    expect((await infer(open, { 'x-user-id': 'u1' })).code).toBe(grpc.status.OK);
    expect(await handshake(port)).toEqual({ serial: serialOf(live), alpn: 'h2' });
    // The open channel's connection: any change of its state (a reconnect included) is noted.
    const channel = open.getChannel();
    expect(channel.getConnectivityState(false)).toBe(grpc.connectivityState.READY);
    const changes: grpc.connectivityState[] = [];
    channel.watchConnectivityState(grpc.connectivityState.READY, deadlineIn(120_000), () => changes.push(channel.getConnectivityState(false)));

    const next = ca.issue('gateway', { days: 60 });
    writeFileSync(live.cert, next.certPem);
    writeFileSync(live.key, next.keyPem);
    gw.child.kill('SIGHUP');
    await gw.waitForLog((l) => l.msg === 'SIGHUP: TLS files re-read, 1 set-up(s) changed', 30_000);

    expect(await handshake(port)).toEqual({ serial: serialOf(next), alpn: 'h2' });
    const fresh = client(`127.0.0.1:${port}`, credentials());
    const afterRotation = await Promise.all([infer(fresh, { 'x-user-id': 'u2' }), infer(open, { 'x-user-id': 'u3' }), infer(open, { 'x-user-id': 'u4' })]);
    expect(afterRotation.map((a) => [a.code, first(a.headers, 'x-model-version')])).toEqual(Array(3).fill([grpc.status.OK, 'v1']));
    expect(v1.callsTo('ModelInfer')).toHaveLength(4);
    // Still on the connection it had before the rotation.
    expect(changes).toEqual([]);

    gw.child.kill('SIGTERM');
    expect(await gw.exitWithin(30_000)).toBe(0);
  }, 60_000);
});
