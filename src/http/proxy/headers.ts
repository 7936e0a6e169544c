import type { IncomingMessage } from 'node:http';
import type { Target } from './upstream-pool.js';

export const VERSION_HEADER = 'x-model-version';
export const REQUEST_ID_HEADER = 'x-request-id';

/** RFC 9110 §7.6.1 connection-specific headers, never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const UPGRADE_HEADERS = new Set(['connection', 'upgrade']);

/** Headers of a request the gateway sets itself upstream. */
const SET_UPSTREAM = new Set(['host', 'x-forwarded-for', REQUEST_ID_HEADER, VERSION_HEADER]);
/** Headers of an answer the gateway sets itself for the client. */
const SET_DOWNSTREAM = new Set([REQUEST_ID_HEADER, VERSION_HEADER]);
const SET_DOWNSTREAM_WITH_LENGTH = new Set([...SET_DOWNSTREAM, 'content-length']);

/**
 * Copies a message's raw headers (`rawHeaders`: name, value, name, value...)
 * without hop-by-hop ones, those the Connection header names, and `drop`.
 * Names keep their case and repeated fields stay separate lines, so what is
 * forwarded is what was received; node:http writes such an array as it is,
 * without building and validating a header map per request.
 */
export function copyHeaders(raw: readonly string[], drop: ReadonlySet<string>, keepUpgrade = false): string[] {
  let named: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'connection') continue;
    named ??= new Set();
    for (const listed of raw[i + 1]!.split(',')) named.add(listed.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (drop.has(lower)) continue;
    if ((HOP_BY_HOP.has(lower) || named?.has(lower) === true) && !(keepUpgrade && UPGRADE_HEADERS.has(lower))) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

/** The headers sent upstream: hop-by-hop removed, forwarding headers set, version and request id added. */
export function upstreamHeaders(req: IncomingMessage, target: Target, version: string, requestId: string, keepUpgrade = false): string[] {
  const out = copyHeaders(req.rawHeaders, SET_UPSTREAM, keepUpgrade);
  const remote = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  out.push('host', target.host, 'x-forwarded-for', prior === undefined ? remote : `${prior}, ${remote}`);
  if (req.headers['x-forwarded-proto'] === undefined) out.push('x-forwarded-proto', 'http');
  if (req.headers['x-forwarded-host'] === undefined && req.headers.host !== undefined) out.push('x-forwarded-host', req.headers.host);
  out.push(REQUEST_ID_HEADER, requestId, VERSION_HEADER, version);
  return out;
}

/** The headers of an answer as the client gets it: the upstream's, hop-by-hop removed, with the version and request id. */
export function downstreamHeaders(upRes: IncomingMessage, version: string, requestId: string, bodyLength: number | null): string[] {
  const out = copyHeaders(upRes.rawHeaders, bodyLength === null ? SET_DOWNSTREAM : SET_DOWNSTREAM_WITH_LENGTH);
  out.push(VERSION_HEADER, version, REQUEST_ID_HEADER, requestId);
  if (bodyLength !== null) out.push('content-length', String(bodyLength));
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
