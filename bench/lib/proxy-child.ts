import { Agent, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import httpProxy from 'http-proxy';
import { silentLogger } from '../../src/app/logger.js';
import { createProxyServer } from '../../src/http/proxy/server.js';
import { buildCore } from './build-core.js';
import { answerStats } from './proc-stats.js';
import { createUndiciProxyServer, UNDICI_DEFAULTS, type UndiciOptions } from './undici-core.js';

/**
 * One proxy under test, in its own process: `node proxy-child.js <variant> <backend-url>`.
 * Variants: `core` (src/http/proxy as is), `http-proxy` (keep-alive Agent),
 * `undici` with optional knobs, e.g. `undici:pipelining=10,api=request`.
 */
const [variant = 'core', backend = ''] = process.argv.slice(2);

async function build(spec: string): Promise<Server> {
  const [kind, knobs = ''] = spec.split(':');
  if (kind === 'core') {
    const { resolver } = await buildCore(backend);
    return createProxyServer(resolver, silentLogger).server;
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
  for (const pair of text.split(',').filter(Boolean)) {
    const [k = '', v = ''] = pair.split('=');
    if (!(k in out)) throw new Error(`unknown undici knob ${k}`);
    out[k] = k === 'pipelining' ? Number(v) : k === 'connections' ? (v === 'null' ? null : Number(v)) : v;
  }
  return out as unknown as UndiciOptions;
}

const server = await build(variant);
server.keepAliveTimeout = 65_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
answerStats();
process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
