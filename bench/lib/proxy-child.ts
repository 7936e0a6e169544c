import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import httpProxy from 'http-proxy';
import { silentLogger } from '../../src/app/logger.js';
import { ignoreRequests, ignoreShadows } from '../../src/app/request-observer.js';
import { createProxyServer } from '../../src/http/proxy/server.js';
import { buildCore } from './build-core.js';
import { answerStats } from './proc-stats.js';
import { monoUs, TraceLog } from './trace.js';
import { createUndiciProxyServer, UNDICI_DEFAULTS, type UndiciOptions } from './undici-core.js';

/**
 * One proxy under test, in its own process: `node proxy-child.js <variant> <backend-url>`.
 * Variants: `core` (src/http/proxy as is), `http-proxy` (keep-alive Agent),
 * `undici` with optional knobs joined by +, e.g. `undici:pipelining=10+api=request`.
 */
const [variant = 'core', backend = ''] = process.argv.slice(2);

async function build(spec: string): Promise<Server> {
  const [kind, knobs = ''] = spec.split(':');
  if (kind === 'core') {
    const { resolver } = await buildCore(backend);
    // The proxy core alone: metrics and analysis observe through a port, left out here.
    return createProxyServer(resolver, { log: silentLogger, observer: ignoreRequests, shadowObserver: ignoreShadows, onFallback: () => undefined, now: () => Date.now(), accessLog: false }).server;
  }
  if (kind === 'undici') {
    const { resolver } = await buildCore(backend);
    return createUndiciProxyServer(resolver, silentLogger, parseKnobs(knobs)).server;
  }
  if (kind === 'http-proxy') {
    const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });
    const proxy = httpProxy.createProxyServer({ target: backend, agent, xfwd: true });
    proxy.on('error', (_err, _req, res) => {
      if ('writeHead' in res && !res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    return createServer((req, res) => proxy.web(req, res));
  }
  throw new Error(`unknown variant ${spec}`);
}

function parseKnobs(text: string): UndiciOptions {
  const out: Record<string, unknown> = { ...UNDICI_DEFAULTS };
  for (const pair of text.split('+').filter(Boolean)) {
    const [k = '', v = ''] = pair.split('=');
    if (!(k in out)) throw new Error(`unknown undici knob ${k}`);
    out[k] = k === 'pipelining' ? Number(v) : k === 'connections' ? (v === 'null' ? null : Number(v)) : v;
  }
  return out as unknown as UndiciOptions;
}

const server = await build(variant);
server.keepAliveTimeout = 65_000;
/**
 * BENCH_TRACE=1 (the 20 ms scenario): note when each request arrives and when its
 * response is finished; the backend notes the same request by its x-request-id, given
 * here so that every variant (http-proxy makes none) forwards one the backend can see.
 */
let trace: TraceLog | null = null;
if (process.env.BENCH_TRACE === '1') {
  const log = new TraceLog();
  trace = log;
  let seq = 0;
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const gotAt = monoUs();
    const id = `t${++seq}`;
    req.headers['x-request-id'] = id;
    res.once('finish', () => log.push(id, gotAt, monoUs()));
  });
}
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
answerStats(undefined, trace);
process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
