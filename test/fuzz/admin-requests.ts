import fc from 'fast-check';
import { METHODS } from 'node:http';
import { deflateSync, gzipSync } from 'node:zlib';
import { OPERATOR_TOKEN, READ_TOKEN } from '../helpers/admin-fixture.js';

/**
 * Random and malformed admin API requests for the fuzz test: real routes with
 * odd names and keys, broken percent-encoding, very long segments, every kind of
 * Authorization, If-Match and Content-Type, and bodies from valid-looking JSON
 * with wrong types to invalid JSON, non-JSON, compressed junk and oversized.
 */

/** The services of the admin fixture's config and their versions. */
export const SERVICE_VERSIONS: Readonly<Record<string, readonly string[]>> = { 'fraud-scorer': ['v1', 'v2', 'v3'], ranker: ['blue', 'green'] };
export const SERVICE_NAMES = Object.keys(SERVICE_VERSIONS);
const ALL_VERSIONS = Object.values(SERVICE_VERSIONS).flat();

/** Node's header limit (16 KiB): a URL past it is refused by the parser, below express. */
export const NODE_HEADER_LIMIT_BYTES = 16 * 1024;
const BODY_LIMIT_BYTES = 64 * 1024;
const ALERT_BODY_LIMIT_BYTES = 1024 * 1024;

export interface FuzzRequest {
  readonly method: string;
  /** Path and query, as sent on the request line. */
  readonly path: string;
  /** Name/value pairs; a name may repeat. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer | null;
  /** Sent with Transfer-Encoding: chunked, in two chunks, instead of Content-Length. */
  readonly chunked: boolean;
}

/** True when node:http refuses the request before express sees it (the connection is then closed). */
export function parserRefuses(request: FuzzRequest): boolean {
  const headerBytes = request.path.length + request.headers.reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
  return !METHODS.includes(request.method) || headerBytes > NODE_HEADER_LIMIT_BYTES - 512;
}

export function describeRequest(request: FuzzRequest): string {
  const path = request.path.length > 200 ? `${request.path.slice(0, 200)}... (${request.path.length} chars)` : request.path;
  const headers = request.headers.map(([k, v]) => `${k}: ${v.slice(0, 80)}`).join(' | ');
  const body = request.body === null ? 'none' : `${request.body.length} bytes ${JSON.stringify(request.body.subarray(0, 160).toString('latin1'))}`;
  return `${request.method} ${path}\n    headers: ${headers}\n    body${request.chunked ? ' (chunked)' : ''}: ${body}`;
}

// ---- path pieces ----

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Percent-encodes every byte outside the unreserved set (lone surrogates become U+FFFD, never a throw). */
function percentEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += UNRESERVED.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Printable ASCII sent raw, except what would end the path segment; a stray `%` stays raw on purpose. */
function rawish(text: string): string {
  return [...text].map((ch) => (/[\x21-\x7e]/.test(ch) && !'/?#'.includes(ch) ? ch : percentEncode(ch))).join('');
}

const ODD_SEGMENTS = ['', '.', '..', '%2e%2e', '%2F', '%2f..%2f', '%00', '%', '%zz', '%E0%A4%A', '%C0%AF', '%FF', '%F0%9F%98%80', 'fraud-scorer%00', 'FRAUD-SCORER', 'fraud-scorer%20', '%20fraud-scorer', 'fraud-scorer.json', '__proto__', 'constructor', 'hasOwnProperty', 'toString', 'prototype', 'null', 'undefined', '*', ';', '%3B', 'a;b=c'];

const oddText = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.integer({ min: 200, max: 6000 }).map((n) => 'k'.repeat(n)),
);

const oddSegment = fc.oneof(
  { weight: 3, arbitrary: oddText.map(percentEncode) },
  { weight: 2, arbitrary: oddText.map(rawish) },
  { weight: 3, arbitrary: fc.constantFrom(...ODD_SEGMENTS) },
  // Past Node's 16 KiB header limit: refused with 431 before express.
  { weight: 1, arbitrary: fc.integer({ min: NODE_HEADER_LIMIT_BYTES + 100, max: NODE_HEADER_LIMIT_BYTES + 4000 }).map((n) => 'y'.repeat(n)) },
);

const serviceSegment = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...SERVICE_NAMES) }, { weight: 2, arbitrary: oddSegment });

const keySegment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('user-1', 'user-2', 'alice@example.com', 'a%2Fb', '%C3%A9t%C3%A9', 'k'.repeat(256), 'k'.repeat(257)) },
  { weight: 4, arbitrary: oddSegment },
);

const version = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...ALL_VERSIONS) }, { weight: 1, arbitrary: fc.string({ maxLength: 70 }) });

const queryValue = fc.oneof(fc.constantFrom('user-1', '', '%', '%E0%A4%A', '%00', '1', '0', '501', '1.5', '-1', '1718000000000-0', '99999999999999999-0'), oddText.map(percentEncode));
const queryName = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('key', 'version', 'limit', 'before', 'service') }, { weight: 1, arbitrary: fc.constantFrom('key[]', 'key[a]', '__proto__', 'constructor', '', '%', 'user') });
const query = fc
  .array(fc.tuple(queryName, queryValue), { maxLength: 4 })
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));

const COMMANDS = ['rollout', 'weight', 'rollback', 'pause', 'resume', 'promote', 'switch'] as const;

interface Route {
  readonly path: string;
  readonly method: string;
  /** A body the route accepts (null: the route takes none). */
  readonly valid: fc.Arbitrary<unknown> | null;
  /** A valid-looking body, often broken. */
  readonly body: fc.Arbitrary<unknown>;
}

// ---- body values ----

function deepNest(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom<unknown>(1e308, -1e308, 5e-324, -0, 2 ** 53 + 1, 100.001, 12.345, -1, 101, 'NaN', 'Infinity', '-Infinity', '1e400', '', ' ', '\u0000', 'null', 'true', '25', '1e2', '0x10', '10%', [], {}, null, true, false),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer({ min: 1, max: 2000 }).map(deepNest),
);

const reason = fc.oneof(
  { weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) },
  { weight: 2, arbitrary: fc.constantFrom(undefined, null) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', 'r'.repeat(1000), 'r'.repeat(1001)) },
);
const percent = fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 10_000 }).map((bp) => bp / 100));
const duration = fc.oneof(fc.constantFrom('1m', '30s', '500ms', '1h', '7d', '0s', '0ms', '721h', '1.5h', ' 1m ', '99999999999999999999d', '1e3ms', '-1m', '1 m', '1M'), fc.nat().map((n) => `${n}ms`));
const steps = fc.array(fc.record({ weight: percent, bake: duration }, { requiredKeys: ['weight'] }), { minLength: 1, maxLength: 5 }).map((list) => list.sort((a, b) => a.weight - b.weight));

const commandBodies: Record<(typeof COMMANDS)[number], fc.Arbitrary<Record<string, unknown>>> = {
  // `weight` starts a manual canary; with steps or for blue-green the core refuses it.
  rollout: fc.record({ candidate: version, strategy: fc.constantFrom('canary', 'canary', 'blue-green', 'linear'), steps, weight: percent, salt: fc.string({ maxLength: 10 }), reason }, { requiredKeys: ['candidate'] }),
  weight: fc.record({ weight: percent, reason }, { requiredKeys: ['weight'] }),
  rollback: fc.record({ reason }),
  pause: fc.record({ reason }),
  resume: fc.record({ reason }),
  promote: fc.record({ reason }),
  switch: fc.record({ reason }),
};

const overrideBody = fc.record({ version, reason, ttl: duration }, { requiredKeys: ['version', 'reason'] });

const alertBody = fc.record(
  {
    version: fc.constantFrom('4', '4', '3', 4),
    status: fc.constantFrom('firing', 'resolved', 'pending'),
    alerts: fc.array(
      fc.record({
        status: fc.constantFrom('firing', 'firing', 'resolved'),
        labels: fc.record({ alertname: fc.string({ maxLength: 12 }), service: fc.oneof(fc.constantFrom(...SERVICE_NAMES), fc.string({ maxLength: 12 })), version }, { requiredKeys: [] }),
        annotations: fc.record({ summary: fc.string({ maxLength: 30 }) }),
      }, { requiredKeys: ['status', 'labels'] }),
      { maxLength: 3 },
    ),
    groupKey: fc.string({ maxLength: 10 }),
  },
  { requiredKeys: ['version', 'status', 'alerts'] },
);

/** True `yes` times in `yes + no`, without fast-check's bias towards small values. */
function chance(yes: number, no: number): fc.Arbitrary<boolean> {
  return fc.oneof({ weight: yes, arbitrary: fc.constant(true) }, { weight: no, arbitrary: fc.constant(false) });
}

/** Breaks a valid-looking object: a field gets a junk value, an unknown field appears, a field goes. */
const mutation = fc.oneof(
  fc.tuple(fc.constant('set' as const), fc.constantFrom('candidate', 'weight', 'reason', 'steps', 'version', 'ttl', 'alerts', 'status', 'strategy', 'salt'), junk),
  fc.tuple(fc.constant('add' as const), fc.constantFrom('force', 'colour', '__proto__', 'constructor', 'revision', 'weightBp', ''), junk),
  fc.tuple(fc.constant('drop' as const), fc.constantFrom('candidate', 'weight', 'reason', 'version', 'alerts'), fc.constant(null)),
);

const changes = fc.oneof({ weight: 5, arbitrary: fc.constant([]) }, { weight: 4, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 2 }) });

function mutated(base: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<unknown> {
  return fc.tuple(base, changes, junk, chance(1, 9)).map(([object, edits, other, notAnObject]) => {
    if (notAnObject) return other;
    const out: Record<string, unknown> = { ...object };
    for (const [kind, field, value] of edits) {
      if (kind === 'drop') delete out[field];
      else Object.defineProperty(out, field, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  });
}

// ---- body text ----

/** Valid JSON and many ways of not being it. */
function bodyText(value: fc.Arbitrary<unknown>, limitBytes: number): fc.Arbitrary<Buffer> {
  const json = value.map((v) => JSON.stringify(v) ?? 'undefined');
  const text = fc.oneof(
    { weight: 30, arbitrary: json },
    { weight: 2, arbitrary: fc.tuple(json, fc.nat()).map(([t, n]) => t.slice(0, n % Math.max(1, t.length))) },
    { weight: 2, arbitrary: fc.constantFrom('{"weight": NaN}', '{"weight": Infinity}', '{"weight": 1e400}', '{"weight": -0}', '{"weight": 0x10}', '{"weight": .5}', '{"weight": 01}', '{"reason": \'x\'}', '{reason: "x"}', '{"reason": "x",}', '{"reason": "x" /* c */}', '{"weight": 5, "weight": "x"}', '{"reason": "\\ud800"}', '{"reason": "\\u0000"}', '{"reason": "a\nb"}', '\uFEFF{"reason": "bom"}', '{"a":1}{"b":2}', '{"reason": "x"} trailing', '{"__proto__": {"reason": "x"}}', '{"constructor": {"prototype": {"x": 1}}}') },
    { weight: 2, arbitrary: fc.constantFrom('', ' ', 'null', '1', '"x"', 'true', '[]', '[{}]', '{}', '{', '}', '[', 'undefined', 'NaN') },
    { weight: 2, arbitrary: fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('reason=x&weight=5', '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--')) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }).map((n) => `${'['.repeat(n)}${n % 3 === 0 ? '' : ']'.repeat(n)}`) },
    { weight: 1, arbitrary: fc.integer({ min: limitBytes - 64, max: limitBytes * 3 }).map((n) => `{"reason":"${'x'.repeat(n)}"}`) },
  );
  return fc.oneof({ weight: 40, arbitrary: text.map((t) => Buffer.from(t, 'utf8')) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)) });
}

// ---- headers ----

const headerChars = fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCXYZ[\\]^_`abcxyz{|}~\t\xa0\xe9\xff');
const headerValue = fc.string({ unit: headerChars, maxLength: 60 });
const tokenChars = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_!#$%&\'*+.^`|~');
/** Names undici refuses to send or computes itself. */
const CLIENT_OWNED = new Set(['connection', 'content-length', 'expect', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-connection']);
const extraHeader = fc.oneof(
  fc.tuple(fc.constantFrom('accept', 'x-request-id', 'accept-encoding', 'if-none-match', 'origin', 'cookie', 'x-forwarded-for', 'x-http-method-override'), fc.oneof(headerValue, fc.constantFrom('text/html', '*/*', 'PUT', 'DELETE'))),
  // Not random: undici parses the Host it sends (a value starting with `[` trips an assertion in the client).
  fc.tuple(fc.constant('host'), fc.constantFrom('example.com', 'evil.example:99', '127.0.0.1:1', 'a_b', '')),
  fc.tuple(fc.string({ unit: tokenChars, minLength: 1, maxLength: 20 }).filter((n) => !CLIENT_OWNED.has(n.toLowerCase())), headerValue),
);

const authorizationArbs: Array<fc.WeightedArbitrary<readonly string[]>> = [
  { weight: 40, arbitrary: fc.constant([`Bearer ${OPERATOR_TOKEN}`]) },
  { weight: 3, arbitrary: fc.constant([`Bearer ${READ_TOKEN}`]) },
  { weight: 3, arbitrary: fc.constant([]) },
  { weight: 2, arbitrary: fc.constantFrom([`bearer ${OPERATOR_TOKEN}`], [`Bearer \t ${OPERATOR_TOKEN} `], [`Bearer ${OPERATOR_TOKEN}x`], [`Bearer ${OPERATOR_TOKEN.slice(0, -1)}`], ['Bearer'], ['Bearer '], [''], [`Basic ${Buffer.from(`alice:${OPERATOR_TOKEN}`).toString('base64')}`], [`Token ${OPERATOR_TOKEN}`], [`Bearer ${OPERATOR_TOKEN} ${OPERATOR_TOKEN}`], [`Bearer ${READ_TOKEN}`, `Bearer ${OPERATOR_TOKEN}`], [`Bearer ${OPERATOR_TOKEN}`, 'Bearer nope']) },
  { weight: 2, arbitrary: headerValue.map((v) => [v]) },
];
const authorization = fc.oneof(...authorizationArbs);

const ifMatch = fc.oneof(
  { weight: 12, arbitrary: fc.constant([]) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 60 }).map((n) => [n % 2 === 0 ? String(n) : `"${n}"`]) },
  { weight: 2, arbitrary: fc.oneof(fc.constantFrom('*', 'W/"3"', '"3', '3"', '""', '-1', '1e3', '0x10', '9999999999999999', '"1", "2"', ' 2 ', 'NaN', 'null'), headerValue).map((v) => [v]) },
);

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'APPLICATION/JSON'];
const contentType = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom(...JSON_TYPES) },
  { weight: 3, arbitrary: fc.constantFrom('application/json; charset=latin1', 'application/json; charset=utf-16', 'application/json; charset', 'application/json;;', 'application/json; boundary=x', 'application/problem+json', 'application/vnd.api+json', 'application/*', 'text/json', 'text/plain', 'text/html', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '*/*', 'json', '', 'application/json, text/plain') },
  { weight: 1, arbitrary: headerValue },
  { weight: 2, arbitrary: fc.constant(null) },
);

type Encoding = 'none' | 'gzip' | 'deflate' | 'gzip-junk' | 'br-junk' | 'unknown' | 'identity' | 'bomb';
const encoding = fc.oneof({ weight: 40, arbitrary: fc.constant<Encoding>('none') }, { weight: 1, arbitrary: fc.constantFrom<Encoding>('gzip', 'deflate', 'gzip-junk', 'br-junk', 'unknown', 'identity', 'bomb') });

/** 2 MiB of JSON that compresses to a few KiB: the limit applies to what it inflates to. */
const GZIP_BOMB = gzipSync(Buffer.from(`{"reason":"${'z'.repeat(2 * 1024 * 1024)}"}`));

function encode(body: Buffer, how: Encoding): { body: Buffer; header: string | null } {
  switch (how) {
    case 'none':
      return { body, header: null };
    case 'gzip':
      return { body: gzipSync(body), header: 'gzip' };
    case 'deflate':
      return { body: deflateSync(body), header: 'deflate' };
    case 'gzip-junk':
      return { body, header: 'gzip' };
    case 'br-junk':
      return { body, header: 'br' };
    case 'unknown':
      return { body, header: 'x-snappy, gzip' };
    case 'identity':
      return { body, header: 'identity' };
    case 'bomb':
      return { body: GZIP_BOMB, header: 'gzip' };
  }
}

// ---- requests ----

const OTHER_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'PROPFIND', 'MKCOL', 'LOCK', 'PURGE', 'SEARCH', 'REPORT', 'QUERY', 'FOO', 'get', 'Post'];

const route: fc.Arbitrary<Route> = fc.oneof(
  {
    weight: 10,
    // A rollout must start before most commands apply: ask for one more often.
    arbitrary: fc.tuple(serviceSegment, fc.constantFrom(...COMMANDS, 'rollout', 'rollout', 'weight')).chain(([service, command]) =>
      fc.constant({ path: `/services/${service}/${command}`, method: 'POST', valid: commandBodies[command], body: mutated(commandBodies[command]) }),
    ),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(serviceSegment, keySegment, fc.boolean()).map(([service, key, put]) => ({
      path: `/services/${service}/overrides/${key}`,
      method: put ? 'PUT' : 'DELETE',
      valid: put ? overrideBody : null,
      body: mutated(overrideBody),
    })),
  },
  {
    weight: 4,
    arbitrary: fc.tuple(serviceSegment, fc.constantFrom('', '/assignment', '/overrides'), query).map(([service, tail, q]) => ({ path: `/services/${service}${tail}${q}`, method: 'GET', valid: null, body: junk })),
  },
  { weight: 1, arbitrary: query.map((q) => ({ path: `/services${q}`, method: 'GET', valid: null, body: junk })) },
  { weight: 1, arbitrary: query.map((q) => ({ path: `/audit${q}`, method: 'GET', valid: null, body: junk })) },
  { weight: 2, arbitrary: fc.constant({ path: '/alerts/alertmanager', method: 'POST', valid: alertBody, body: mutated(alertBody) }) },
  {
    weight: 1,
    arbitrary: fc.array(oddSegment, { minLength: 1, maxLength: 4 }).map((segments) => ({ path: `/${segments.join('/')}`, method: 'POST', valid: null, body: junk })),
  },
);

const prefix = fc.oneof({ weight: 30, arbitrary: fc.constant('/api/v1') }, { weight: 1, arbitrary: fc.constantFrom('/api/v1/', '/API/V1', '/api/v1/.', '/api//v1', '/api/v2', '', '/api/v1%2F', '//api/v1') });

function assemble(method: string, path: string, headers: Array<readonly [string, string]>, raw: Buffer | null, how: Encoding, chunked: boolean): FuzzRequest {
  const encoded = raw === null ? null : encode(raw, how);
  if (encoded?.header != null) headers.push(['content-encoding', encoded.header]);
  return { method, path, headers, body: encoded?.body ?? null, chunked: encoded !== null && chunked };
}

/** A well-formed call of a real route: valid token and JSON; only the names and the rollout phase may still be wrong. */
const cleanRequest: fc.Arbitrary<FuzzRequest> = route.chain((r) => {
  const headers: Array<readonly [string, string]> = [['authorization', `Bearer ${OPERATOR_TOKEN}`]];
  if (r.valid === null) return fc.constant(assemble(r.method, `/api/v1${r.path}`, headers, null, 'none', false));
  headers.push(['content-type', 'application/json']);
  return r.valid.map((body) => assemble(r.method, `/api/v1${r.path}`, headers, Buffer.from(JSON.stringify(body)), 'none', false));
});

/** Anything goes: method, prefix, every header and the body are drawn on their own. */
const wildRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    route,
    prefix,
    otherMethod: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom(...OTHER_METHODS) }),
    withBody: chance(9, 1),
    authorization,
    ifMatch,
    contentType,
    encoding,
    extra: fc.array(extraHeader, { maxLength: 3 }),
    chunked: chance(1, 14),
  })
  .chain((r) => {
    const method = r.otherMethod ?? r.route.method;
    const limit = r.route.path === '/alerts/alertmanager' ? ALERT_BODY_LIMIT_BYTES : BODY_LIMIT_BYTES;
    const sendsBody = method !== 'HEAD' && (r.route.method !== 'GET') === r.withBody;
    return (sendsBody ? bodyText(r.route.body, limit) : fc.constant(null)).map((raw): FuzzRequest => {
      const headers: Array<readonly [string, string]> = [];
      for (const v of r.authorization) headers.push(['authorization', v]);
      for (const v of r.ifMatch) headers.push(['if-match', v]);
      if (raw !== null && r.contentType !== null) headers.push(['content-type', r.contentType]);
      // undici sends one Host header at most.
      headers.push(...r.extra.filter(([name], i) => name.toLowerCase() !== 'host' || r.extra.findIndex(([n]) => n.toLowerCase() === 'host') === i));
      return assemble(method, `${r.prefix}${r.route.path}`, headers, raw, r.encoding, r.chunked);
    });
  });

/** One in three requests is well-formed, so writes succeed often enough to move the state around. */
export const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.oneof({ weight: 1, arbitrary: cleanRequest }, { weight: 2, arbitrary: wildRequest });
