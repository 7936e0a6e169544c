import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Target } from './upstream-pool.js';

export const VERSION_HEADER = 'x-model-version';
export const REQUEST_ID_HEADER = 'x-request-id';

/** RFC 9110 §7.6.1 connection-specific headers, never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Copies headers without hop-by-hop ones, including those the Connection header names. */
export function withoutHopByHop(headers: IncomingHttpHeaders, keepUpgrade = false): OutgoingHttpHeaders {
  const listed = headers.connection;
  const named = listed === undefined ? null : new Set(listed.toLowerCase().split(',').map((h) => h.trim()));
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || named?.has(name)) {
      if (!(keepUpgrade && (name === 'connection' || name === 'upgrade'))) continue;
    }
    out[name] = headers[name];
  }
  return out;
}

/** Reads one cookie from a Cookie header without parsing the rest. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  let from = 0;
  while (from < header.length) {
    const at = header.indexOf(name, from);
    if (at === -1) return null;
    const boundary = at === 0 || header[at - 1] === ' ' || header[at - 1] === ';';
    if (boundary && header[at + name.length] === '=') {
      const end = header.indexOf(';', at);
      const value = header.slice(at + name.length + 1, end === -1 ? undefined : end).trim();
      return value === '' ? null : value;
    }
    from = at + name.length;
  }
  return null;
}

export function singleHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The headers sent upstream: hop-by-hop removed, forwarding headers set, version and request id added. */
export function upstreamHeaders(req: IncomingMessage, target: Target, version: string, requestId: string, keepUpgrade: boolean) {
  const headers = withoutHopByHop(req.headers, keepUpgrade);
  const remote = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = prior === undefined ? remote : `${String(prior)}, ${remote}`;
  headers['x-forwarded-proto'] ??= 'http';
  headers['x-forwarded-host'] ??= req.headers.host;
  headers.host = target.host;
  headers[REQUEST_ID_HEADER] = requestId;
  headers[VERSION_HEADER] = version;
  return headers;
}
