import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { answerStats } from './proc-stats.js';
import { failureReason } from './tls-listener-counts.js';

/**
 * The model backend of bench/proxy-tls, in its own process: the same fast answer
 * as bench/lib/backend.ts, over plain HTTP on one port and over HTTPS (the
 * certificate in BENCH_TLS_CERT / BENCH_TLS_KEY) on another. It counts, per
 * port, the TCP connections and requests it got and, on the HTTPS port, the TLS
 * handshakes it accepted (`secureConnection`), how many of them resumed a
 * session (`isSessionReused()`) and how many failed. The counters only grow: the
 * bench reads them before, during and after a run and subtracts.
 */

/** What one port saw since the backend started. */
export interface PortCounts {
  connections: number;
  requests: number;
  /** Answers for the canary (x-model-version: v2). */
  canary: number;
  /** HTTPS port only: full and resumed handshakes, and failed ones (tlsClientError). */
  handshakes: number;
  resumed: number;
  failed: number;
  /** Failed handshakes by reason (an error code, or OpenSSL's reason). */
  failedBy: Record<string, number>;
}

export interface TlsBackendReady {
  readonly plainPort: number;
  readonly tlsPort: number;
}

/** The backend's `stats` answer carries both ports' counters and the first handshake's parameters. */
export interface TlsBackendCounts {
  readonly plain: PortCounts;
  readonly tls: PortCounts;
  /** Of the first handshake on the HTTPS port, e.g. `TLSv1.3 TLS_AES_256_GCM_SHA384, SNI backend.bench.test`. */
  readonly negotiated: string;
}

const BODY = Buffer.from(JSON.stringify({ model: 'bench', score: 0.7312, label: 'legit' }));
const HEADERS = { 'content-type': 'application/json', 'content-length': String(BODY.length) };

const zero = (): PortCounts => ({ connections: 0, requests: 0, canary: 0, handshakes: 0, resumed: 0, failed: 0, failedBy: {} });
const plain = zero();
const tls = zero();
let negotiated = '';

function handler(counts: PortCounts) {
  return (req: IncomingMessage, res: ServerResponse) => {
    counts.requests++;
    if (req.headers['x-model-version'] === 'v2') counts.canary++;
    req.resume();
    res.writeHead(200, HEADERS);
    res.end(BODY);
  };
}

function listen(server: Server, counts: PortCounts): Promise<number> {
  server.keepAliveTimeout = 65_000;
  server.on('connection', () => counts.connections++);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

const certFile = process.env.BENCH_TLS_CERT;
const keyFile = process.env.BENCH_TLS_KEY;
if (certFile === undefined || keyFile === undefined) throw new Error('bench/lib/tls-backend needs BENCH_TLS_CERT and BENCH_TLS_KEY');

const plainServer = createServer(handler(plain));
const tlsServer = createTlsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, handler(tls));
tlsServer.on('secureConnection', (socket: TLSSocket) => {
  tls.handshakes++;
  if (socket.isSessionReused()) tls.resumed++;
  if (negotiated === '') {
    const sni = typeof socket.servername === 'string' ? `SNI ${socket.servername}` : 'no SNI';
    negotiated = `${socket.getProtocol() ?? '?'} ${socket.getCipher()?.standardName ?? '?'}, ${sni}`;
  }
});
tlsServer.on('tlsClientError', (err) => {
  tls.failed++;
  const why = failureReason(err);
  tls.failedBy[why] = (tls.failedBy[why] ?? 0) + 1;
});

const [plainPort, tlsPort] = await Promise.all([listen(plainServer, plain), listen(tlsServer, tls)]);
// answerStats types its extra figures as numbers; these nest, and the bench reads them as TlsBackendCounts.
answerStats(() => structuredClone({ plain, tls, negotiated }) as unknown as Record<string, number>);
process.send?.({ type: 'ready', plainPort, tlsPort } satisfies TlsBackendReady & { type: string });
