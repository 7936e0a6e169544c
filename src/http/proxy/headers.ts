import type { IncomingMessage } from 'node:http';
import { BlockList, isIP, type Socket } from 'node:net';
import type { Target } from './upstream-pool.js';

export const VERSION_HEADER = 'x-model-version';
export const REQUEST_ID_HEADER = 'x-request-id';

/** RFC 9110 §7.6.1 connection-specific headers, never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const UPGRADE_HEADERS = new Set(['connection', 'upgrade']);

/** Headers of a request the gateway sets itself upstream. */
const SET_UPSTREAM = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', REQUEST_ID_HEADER, VERSION_HEADER]);
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

export type Scheme = 'http' | 'https';

/**
 * The scheme the client used, which X-Forwarded-Proto says upstream and which
 * makes a generated sticky cookie Secure. A trusted hop (`proxy.trustedProxies`:
 * a load balancer that ends TLS in front) is believed on the first value of its
 * X-Forwarded-Proto; from anyone else the header is not believed, and the
 * listener the request arrived on decides. A value other than http or https is
 * not believed either: nothing could act on it.
 */
export function clientScheme(listener: Scheme, fromTrustedHop: boolean, forwardedProto: string | undefined): Scheme {
  if (!fromTrustedHop || forwardedProto === undefined) return listener;
  const first = (forwardedProto.split(',')[0] ?? '').trim().toLowerCase();
  return first === 'http' || first === 'https' ? first : listener;
}

/**
 * Whether a connection comes from one of `entries` (addresses and CIDR blocks,
 * validated by the config schema), with the BlockList built once. An IPv4 entry
 * also matches its IPv4-mapped IPv6 form, as a dual-stack listener reports it.
 */
export function trustedHops(entries: readonly string[]): (socket: Pick<Socket, 'remoteAddress'>) => boolean {
  if (entries.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return (socket) => {
    const address = socket.remoteAddress;
    return address !== undefined && list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  };
}

/**
 * The headers sent upstream: hop-by-hop removed, forwarding headers set, version
 * and request id added. The client's own X-Forwarded-Proto and -Host are never copied:
 * the proxy server puts the ones it decided (retarget in server.ts) in `req.headers` first.
 */
export function upstreamHeaders(req: IncomingMessage, target: Target, version: string, requestId: string, keepUpgrade = false): string[] {
  const out = copyHeaders(req.rawHeaders, SET_UPSTREAM, keepUpgrade);
  const remote = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  out.push('host', target.host, 'x-forwarded-for', prior === undefined ? remote : `${prior}, ${remote}`);
  out.push('x-forwarded-proto', singleHeader(req.headers['x-forwarded-proto']) ?? 'http');
  const forwardedHost = singleHeader(req.headers['x-forwarded-host']) ?? req.headers.host;
  if (forwardedHost !== undefined) out.push('x-forwarded-host', forwardedHost);
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
