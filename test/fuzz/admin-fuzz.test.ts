import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareAuditIds } from '../../src/core/audit.js';
import type { Override } from '../../src/core/override.js';
import type { RolloutState } from '../../src/core/rollout-state.js';
import { OPERATOR_TOKEN, startAdmin, type AdminFixture } from '../helpers/admin-fixture.js';
import { PACKAGE_VERSION } from '../helpers/package-version.js';
import { describeRequest, fuzzRequest, parserRefuses, SERVICE_NAMES, type FuzzRequest } from './admin-requests.js';

/**
 * Issue 5, "bad input": thousands of random and malformed requests against a real
 * admin server on loopback. Every answer is a success or 4xx problem JSON, the
 * process keeps answering, and a service's revision moves only on a 2xx write.
 * Replay a failure with FUZZ_SEED=<seed printed in the failure>; FUZZ_RUNS changes the count.
 */

const SEED = Number(process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const CONCURRENT_REQUESTS = Number(process.env['FUZZ_RUNS'] ?? 10_000);
const SEQUENTIAL_REQUESTS = Math.ceil(CONCURRENT_REQUESTS * 0.15);
/** An answer later than this is a hang, reported like any other failure. */
const ANSWER_TIMEOUT_MS = 5_000;
const IN_FLIGHT = 16;
const MAX_REPORTED = 10;

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

type Outcome = { readonly answer: Answer } | { readonly transportError: string };

/** What one 2xx answer says was written; the store must show exactly that. */
interface Writes {
  /** Service -> the revision a command answered with. */
  readonly commands: Map<string, number>;
  /** Service -> rollbacks an alert webhook call applied. */
  readonly alertRollbacks: Map<string, number>;
  readonly overridePut: { service: string; key: string; version: string } | null;
  readonly overrideDelete: { service: string; key: string } | null;
}

interface Snapshot {
  readonly states: Map<string, RolloutState>;
  readonly overrides: Map<string, Override[]>;
  /** Ids of the newest audit entries, newest first. */
  readonly auditIds: readonly string[];
}

/** Newest audit entries read around one request; one request writes at most 3 (an alert batch). */
const AUDIT_WINDOW = 20;

let fx: AdminFixture;
let pool: Pool;
let sent = 0;

beforeAll(async () => {
  fx = await startAdmin();
  pool = new Pool(fx.url, { connections: IN_FLIGHT, pipelining: 1, keepAliveTimeout: 10_000, headersTimeout: ANSWER_TIMEOUT_MS, bodyTimeout: ANSWER_TIMEOUT_MS });
});
afterAll(async () => {
  await pool.close();
  await fx.close();
  console.log(`admin fuzz: ${sent} requests sent, seed ${SEED}`);
});

async function send(request: FuzzRequest): Promise<Outcome> {
  sent++;
  const { body } = request;
  const payload = body === null ? null : request.chunked ? chunks(body) : body;
  try {
    const res = await pool.request({ method: request.method, path: request.path, headers: request.headers.flat(), body: payload });
    const text = await res.body.text();
    return { answer: { status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), text } };
  } catch (err) {
    return { transportError: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

/** A stream without a length: undici sends it with Transfer-Encoding: chunked. */
function chunks(body: Buffer): Readable {
  const half = Math.floor(body.length / 2);
  return Readable.from([body.subarray(0, half), body.subarray(half)]);
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The contract of every answer; null when it holds. */
function answerProblem(request: FuzzRequest, outcome: Outcome): string | null {
  if ('transportError' in outcome) {
    // Node closes the connection on requests its parser refuses; the client may see that before the answer.
    return parserRefuses(request) ? null : `no answer: ${outcome.transportError}`;
  }
  const { status, contentType, text } = outcome.answer;
  if (status >= 500) return `status ${status}: ${text.slice(0, 300)}`;
  // A conditional GET whose If-None-Match matches the revision ETag (or is `*`) is rightly answered 304, empty.
  const conditional = (request.method === 'GET' || request.method === 'HEAD') && request.headers.some(([name]) => name.toLowerCase() === 'if-none-match');
  if (status === 304 && conditional) return text === '' ? null : '304 with a body';
  if (status < 200 || (status >= 300 && status < 400)) return `unexpected status ${status}`;
  if (/html/i.test(contentType) || /^\s*</.test(text)) return `HTML answer (${contentType})`;
  if (status < 300) return /json/.test(contentType) && parse(text) === undefined && request.method !== 'HEAD' ? '2xx JSON that does not parse' : null;
  if (!contentType.startsWith('application/problem+json')) return `status ${status} with content-type ${JSON.stringify(contentType)}: ${text.slice(0, 200)}`;
  if (request.method === 'HEAD') return text === '' ? null : 'HEAD answer with a body';
  const doc = parse(text) as { code?: unknown; detail?: unknown; status?: unknown } | undefined;
  if (typeof doc !== 'object' || doc === null) return `problem body is not a JSON object: ${text.slice(0, 200)}`;
  if (typeof doc.code !== 'string' || !doc.code.startsWith('SY_ERR_')) return `problem without a code: ${text.slice(0, 200)}`;
  if (typeof doc.detail !== 'string' || doc.detail === '') return `problem without a detail: ${text.slice(0, 200)}`;
  if (doc.status !== status) return `problem status ${String(doc.status)} differs from the HTTP status ${status}`;
  return doc.code === 'SY_ERR_VALIDATION' ? fieldNamed(doc.detail, (doc as { errors?: unknown }).errors) : null;
}

/** A command refusal names the command instead (`cannot start a rollout: ...`). */
const NAMED = /^(?:[A-Za-z][\w-]*|cannot [a-z -]+): \S/;

/** Issue 5: a 400 names the field it is about, first in its detail and in `errors` when it lists several. */
function fieldNamed(detail: string, errors: unknown): string | null {
  if (errors === undefined) return NAMED.test(detail) ? null : `validation detail names no field: ${detail.slice(0, 200)}`;
  const list = errors as Array<{ field?: unknown; message?: unknown }>;
  if (!Array.isArray(list) || list.length === 0 || !list.every((e) => typeof e.field === 'string' && typeof e.message === 'string')) {
    return `errors is not a list of { field, message }: ${JSON.stringify(errors).slice(0, 200)}`;
  }
  return detail.startsWith(`${String(list[0]!.field)}: `) ? null : `detail does not start with the first field ${String(list[0]!.field)}: ${detail.slice(0, 200)}`;
}

function noWrites(): Writes {
  return { commands: new Map(), alertRollbacks: new Map(), overridePut: null, overrideDelete: null };
}

/** Reads the writes a 2xx answer reports, from its shape. */
function writesOf(request: FuzzRequest, outcome: Outcome): Writes {
  const writes = noWrites();
  if (!('answer' in outcome) || outcome.answer.status >= 300 || request.method === 'HEAD') return writes;
  const doc = parse(outcome.answer.text) as Record<string, any> | undefined;
  if (typeof doc !== 'object' || doc === null) return writes;
  if (request.method === 'POST' && typeof doc['service'] === 'string' && typeof doc['revision'] === 'number' && typeof doc['phase'] === 'string') {
    writes.commands.set(doc['service'], doc['revision']);
  }
  if (request.method === 'POST' && Array.isArray(doc['results'])) {
    for (const result of doc['results'] as Array<{ service: string; outcome: string }>) {
      if (result.outcome === 'rolled_back') writes.alertRollbacks.set(result.service, (writes.alertRollbacks.get(result.service) ?? 0) + 1);
    }
  }
  if (request.method === 'PUT' && typeof doc['key'] === 'string' && typeof doc['expiresAt'] === 'string') {
    return { ...writes, overridePut: { service: doc['service'], key: doc['key'], version: doc['version'] } };
  }
  if (request.method === 'DELETE' && typeof doc['removed'] === 'object' && doc['removed'] !== null) {
    return { ...writes, overrideDelete: { service: doc['removed'].service, key: doc['removed'].key } };
  }
  return writes;
}

function countWrites(writes: Writes): number {
  let n = writes.commands.size + (writes.overridePut === null ? 0 : 1) + (writes.overrideDelete === null ? 0 : 1);
  for (const count of writes.alertRollbacks.values()) n += count;
  return n;
}

async function snapshot(): Promise<Snapshot> {
  const states = new Map<string, RolloutState>();
  const overrides = new Map<string, Override[]>();
  for (const service of SERVICE_NAMES) {
    states.set(service, await fx.commands.state(service));
    overrides.set(service, (await fx.commands.overrides(service)).sort((a, b) => (a.key < b.key ? -1 : 1)));
  }
  const audit = await fx.store.readAudit({ services: SERVICE_NAMES, limit: AUDIT_WINDOW });
  return { states, overrides, auditIds: audit.map((entry) => entry.id) };
}

async function auditLength(): Promise<number> {
  return (await fx.store.readAudit({ services: SERVICE_NAMES, limit: 1_000_000 })).length;
}

function newAuditEntries(before: Snapshot, after: Snapshot): number {
  const newest = before.auditIds[0];
  return newest === undefined ? after.auditIds.length : after.auditIds.filter((id) => compareAuditIds(id, newest) > 0).length;
}

/** The store after one request shows exactly the writes its answer reported, and nothing else. */
function effectProblem(before: Snapshot, after: Snapshot, writes: Writes): string | null {
  for (const service of SERVICE_NAMES) {
    const was = before.states.get(service)!;
    const now = after.states.get(service)!;
    const expected = (writes.commands.has(service) ? 1 : 0) + (writes.alertRollbacks.get(service) ?? 0);
    if (now.revision - was.revision !== expected) return `${service}: revision ${was.revision} -> ${now.revision}, expected +${expected}`;
    if (expected === 0 && !isDeepStrictEqual(was, now)) return `${service}: state changed without a write`;
    const answered = writes.commands.get(service);
    if (answered !== undefined && answered !== now.revision) return `${service}: answered revision ${answered}, store has ${now.revision}`;
    const pins = new Map((before.overrides.get(service) ?? []).map((o) => [o.key, o.version] as const));
    if (writes.overridePut?.service === service) pins.set(writes.overridePut.key, writes.overridePut.version);
    if (writes.overrideDelete?.service === service) pins.delete(writes.overrideDelete.key);
    const stored = new Map((after.overrides.get(service) ?? []).map((o) => [o.key, o.version] as const));
    if (!isDeepStrictEqual(pins, stored)) return `${service}: overrides ${JSON.stringify([...stored])}, expected ${JSON.stringify([...pins])}`;
  }
  const audited = newAuditEntries(before, after);
  return audited === countWrites(writes) ? null : `${audited} audit entries for ${countWrites(writes)} writes`;
}

function failure(index: number, request: FuzzRequest, outcome: Outcome, why: string): string {
  const answer = 'answer' in outcome ? `${outcome.answer.status} ${outcome.answer.contentType} ${outcome.answer.text.slice(0, 300)}` : outcome.transportError;
  return `#${index}: ${why}\n    ${describeRequest(request)}\n    answer: ${answer}`;
}

function report(what: string, failures: readonly string[]): string {
  return `${failures.length} ${what} (replay with FUZZ_SEED=${SEED}):\n${failures.slice(0, MAX_REPORTED).join('\n')}`;
}

async function inParallel<T>(items: readonly T[], width: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
}

describe('admin API under random and malformed requests', () => {
  it(`answers ${CONCURRENT_REQUESTS} concurrent requests with 2xx or 4xx problem JSON; revisions move once per 2xx write`, async () => {
    const requests = fc.sample(fuzzRequest, { seed: SEED, numRuns: CONCURRENT_REQUESTS });
    const before = await snapshot();
    const auditBefore = await auditLength();
    const failures: string[] = [];
    const revisions = new Map<string, number[]>(SERVICE_NAMES.map((s) => [s, []]));
    const rollbacks = new Map<string, number>();
    let writes = 0;
    const answers = new Map<string, number>();
    const started = Date.now();
    await inParallel(requests, IN_FLIGHT, async (request, index) => {
      const outcome = await send(request);
      const why = answerProblem(request, outcome);
      const key = 'answer' in outcome ? `${outcome.answer.status} ${(parse(outcome.answer.text) as { code?: string } | undefined)?.code ?? '(no body)'}` : 'no answer';
      answers.set(key, (answers.get(key) ?? 0) + 1);
      if (why !== null) failures.push(failure(index, request, outcome, why));
      const written = writesOf(request, outcome);
      writes += countWrites(written);
      for (const [service, revision] of written.commands) revisions.get(service)?.push(revision);
      for (const [service, n] of written.alertRollbacks) rollbacks.set(service, (rollbacks.get(service) ?? 0) + n);
    });
    const after = await snapshot();
    const auditAfter = await auditLength();
    console.log(`admin fuzz (concurrent): ${requests.length} requests in ${Date.now() - started} ms, ${writes} writes applied, seed ${SEED}`);
    console.log([...answers].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(', '));
    expect(failures, report('bad answers', failures)).toEqual([]);

    for (const service of SERVICE_NAMES) {
      const from = before.states.get(service)!.revision;
      const to = after.states.get(service)!.revision;
      const answered = revisions.get(service)!.sort((a, b) => a - b);
      const alertBumps = rollbacks.get(service) ?? 0;
      const where = `${service} (seed ${SEED})`;
      expect(to - from, `${where}: revision ${from} -> ${to} for ${answered.length} commands and ${alertBumps} alert rollbacks`).toBe(answered.length + alertBumps);
      expect(new Set(answered).size, `${where}: two commands answered with the same revision`).toBe(answered.length);
      if (answered.length > 0) expect(answered[0]! > from && answered.at(-1)! <= to, `${where}: answered revisions outside ${from}..${to}`).toBe(true);
    }
    expect(auditAfter - auditBefore, `audit entries vs 2xx writes (seed ${SEED})`).toBe(writes);
  }, 120_000);

  it(`one request at a time (${SEQUENTIAL_REQUESTS}): a refused request changes nothing, a 2xx write exactly what it reports`, async () => {
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(fuzzRequest, async (request) => {
        const before = await snapshot();
        const outcome = await send(request);
        const after = await snapshot();
        const why = answerProblem(request, outcome) ?? effectProblem(before, after, writesOf(request, outcome));
        if (why !== null) throw new Error(failure(0, request, outcome, why));
      }),
      // No shrinking: each run changes the server's state, so a shrunk replay would not meet the same state.
      { seed: SEED + 1, numRuns: SEQUENTIAL_REQUESTS, endOnFailure: true },
    );
    console.log(`admin fuzz (sequential): ${SEQUENTIAL_REQUESTS} requests in ${Date.now() - started} ms, seed ${SEED + 1}`);
  }, 60_000);

  it('answers with problem JSON what Node refuses below express, and keeps serving', async () => {
    const auth = `Authorization: Bearer ${OPERATOR_TOKEN}\r\n`;
    const cases = [
      ['FOO /api/v1/services HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      [`GET /api/v1/services/${'y'.repeat(17_000)} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`, 431],
      [`GET /api/v1/services HTTP/1.1\r\nHost: x\r\nX-Big: ${'z'.repeat(17_000)}\r\n${auth}\r\n`, 431],
      [`POST /api/v1/services/fraud-scorer/pause HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
      [`POST /api/v1/services/fraud-scorer/pause HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 1e3\r\n\r\n{}`, 400],
      [`POST /api/v1/services/fraud-scorer/pause HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`, 400],
      [`GET /api/v1/services/\xe9\x01 HTTP/1.1\r\nHost: x\r\n${auth}\r\n`, 400],
      [`GET /api/v1/services HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n${auth}\r\n`, 400],
      [`POST /api/v1/services/fraud-scorer/pause HTTP/1.1\r\nHost: x\r\n${auth}Expect: fast-please\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`, 417],
      [`POST /api/v1/services/fraud-scorer/pause HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`, 400],
    ] as const;
    const before = await snapshot();
    for (const [text, status] of cases) {
      const answer = await rawExchange(fx.url, text);
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      const where = `${JSON.stringify(text.slice(0, 80))} -> ${JSON.stringify(answer.slice(0, 200))}`;
      expect(head.split('\r\n')[0], where).toBe(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}`);
      expect(head, where).toMatch(/\r\nContent-Type: application\/problem\+json/i);
      const doc = JSON.parse(body) as { code: string; detail: string; errors?: unknown };
      expect(doc, where).toMatchObject({ status, code: expect.stringMatching(/^SY_ERR_/), detail: expect.any(String) });
      if (doc.code === 'SY_ERR_VALIDATION') expect(fieldNamed(doc.detail, doc.errors), where).toBeNull();
    }
    sent += cases.length;
    expect(effectProblem(before, await snapshot(), noWrites())).toBeNull();
  });

  it('names the field when the body parser or the router refuses', async () => {
    const pause = '/api/v1/services/fraud-scorer/pause';
    const cases = [
      [pause, { 'content-type': 'application/json; charset=latin1' }, '{}', 'Content-Type: charset LATIN1 is not supported'],
      [pause, { 'content-type': 'application/json', 'content-encoding': 'x-snappy' }, '{}', 'Content-Encoding: "x-snappy" is not supported'],
      [pause, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, '{}', 'body: not valid gzip data'],
      [pause, { 'content-type': 'application/json' }, '{"reason": ', 'body: malformed JSON'],
      ['/api/v1/services/fraud-scorer/overrides/%E0%A4%A', {}, undefined, 'path: "%E0%A4%A" is not valid percent-encoding'],
    ] as const;
    for (const [path, headers, raw, detail] of cases) {
      const res = await fx.call(raw === undefined ? 'DELETE' : 'POST', path, { headers, ...(raw === undefined ? {} : { raw }) });
      sent++;
      expect(res.status, detail).toBe(400);
      expect(res.body.detail).toContain(detail);
      expect(res.body.errors?.[0]?.field).toBe(detail.slice(0, detail.indexOf(':')));
    }
  });

  it('still answers /healthz after all of it', async () => {
    const res = await pool.request({ method: 'GET', path: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ status: 'ok', version: PACKAGE_VERSION });
  });
});

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 417: 'Expectation Failed', 431: 'Request Header Fields Too Large' };

/** Writes raw bytes on a fresh connection and reads until the server closes it. */
function rawExchange(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(Buffer.from(text, 'latin1')));
    let out = '';
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no answer to ${JSON.stringify(text.slice(0, 60))}`)));
    socket.on('data', (chunk: Buffer) => (out += chunk.toString('latin1')));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
}
