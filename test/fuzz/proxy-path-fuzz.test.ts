import fc from 'fast-check';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type Seen, type TestBackend } from '../helpers/backends.js';
import { startTestGateway } from '../helpers/gateway.js';
import { fuzzTarget, hasDotSegment, malformed, under, type FuzzTarget } from './proxy-paths.js';

/**
 * Issue 13, "dot-segments": thousands of random request targets, sent byte for
 * byte over raw sockets to a gateway with nested and host-specific services,
 * each served by its own backend. Every request is either refused with a 4xx
 * problem (a malformed target always), or reaches the backend of the service it matched with a path that
 * is under that service's prefix, holds no dot-segment under any reading, and
 * keeps the query as sent. Replay a failure with FUZZ_SEED=<seed printed in
 * the failure>; FUZZ_RUNS changes the count.
 */

const SEED = Number(process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 3_000);
const IN_FLIGHT = 16;
const ANSWER_TIMEOUT_MS = 5_000;
const MAX_REPORTED = 10;
/** A refusal repeats at most a bounded piece of the target. */
const MAX_DETAIL_CHARS = 200;

/** Service -> its prefix and the Host it needs, as configured below. */
const SERVICES: Readonly<Record<string, { readonly prefix: string; readonly host?: string }>> = {
  fraud: { prefix: '/fraud' },
  'fraud-v2': { prefix: '/fraud/v2' },
  api: { prefix: '/api' },
  'fraud-eu': { prefix: '/fraud', host: 'eu.models.test' },
};

const backends = new Map<string, TestBackend>();
let gateway: Gateway;
let port: number;

function configYaml(): string {
  const services = Object.entries(SERVICES).map(([name, { prefix, host }]) => {
    const match = host === undefined ? `{ pathPrefix: ${prefix} }` : `{ pathPrefix: ${prefix}, host: ${host} }`;
    return `  ${name}:\n    match: ${match}\n    versions:\n      v1: { targets: ["${backends.get(name)?.url}"] }\n    rollout: { stable: v1 }`;
  });
  return `proxy: { listen: "127.0.0.1:0" }\nadmin: { listen: "127.0.0.1:0" }\nlog: { level: silent }\nservices:\n${services.join('\n')}\n`;
}

beforeAll(async () => {
  for (const name of Object.keys(SERVICES)) backends.set(name, await startBackend(name));
  gateway = await startTestGateway(configYaml());
  port = Number(new URL(gateway.proxyUrl).port);
});

afterAll(async () => {
  await gateway.close();
  await Promise.all([...backends.values()].map((b) => b.close()));
  console.log(`proxy path fuzz: seed ${SEED}`);
});

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

function send(request: FuzzTarget, id: string): Promise<Answer> {
  const text = `GET ${request.target} HTTP/1.1\r\nHost: ${request.hostHeader}\r\nx-request-id: ${id}\r\nConnection: close\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.from(text, 'latin1')));
    let raw = '';
    socket.setTimeout(ANSWER_TIMEOUT_MS, () => socket.destroy(new Error(`no answer to ${request.target}`)));
    socket.on('data', (chunk: Buffer) => (raw += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      const end = raw.indexOf('\r\n\r\n');
      const head = raw.slice(0, end);
      const contentType = /\r\ncontent-type: ([^\r]*)/i.exec(head)?.[1] ?? '';
      resolve({ status: Number(head.split(' ')[1]), contentType, body: raw.slice(end + 4) });
    });
  });
}

/** The backend that received the request tagged `id`, and what it received. */
function reached(id: string): { service: string; seen: Seen } | null {
  for (const [service, backend] of backends) {
    const seen = backend.seen.find((s) => s.headers['x-request-id'] === id);
    if (seen !== undefined) return { service, seen };
  }
  return null;
}

/** The service a forwarded path belongs to, by the routing rules written out for the services above. */
function serviceOf(host: string, path: string): string | null {
  const name = host.toLowerCase().replace(/:\d+$/, '');
  for (const [service, rule] of Object.entries(SERVICES).sort(([, a], [, b]) => Number(b.host !== undefined) - Number(a.host !== undefined) || b.prefix.length - a.prefix.length)) {
    if ((rule.host === undefined || rule.host === name) && under(path, rule.prefix)) return service;
  }
  return null;
}

/** The contract of one answer; null when it holds. */
function problemWith(request: FuzzTarget, answer: Answer, id: string): string | null {
  const got = reached(id);
  if (answer.status === 200) {
    if (malformed(request)) return 'a malformed target was served';
    if (got === null) return '200 without reaching a backend';
    const url = got.seen.url;
    const at = url.indexOf('?');
    const path = at === -1 ? url : url.slice(0, at);
    const query = at === -1 ? '' : url.slice(at);
    if (hasDotSegment(path)) return `forwarded ${url} to ${got.service}: it holds a dot-segment`;
    const expected = serviceOf(request.host, path);
    if (got.service !== expected) return `forwarded ${url} to ${got.service}, which belongs to ${expected ?? 'no service'}`;
    if (query !== request.query) return `forwarded query ${query}, sent ${request.query}`;
    if (!hasDotSegment(request.path) && !/[%\\]/.test(request.path) && path !== request.path) return `forwarded ${path} for a plain ${request.path}`;
    return null;
  }
  if (got !== null) return `answered ${answer.status} but ${got.service} received ${got.seen.url}`;
  if (!answer.contentType.startsWith('application/problem+json')) return `status ${answer.status} with content-type ${JSON.stringify(answer.contentType)}`;
  const doc = JSON.parse(answer.body) as { code?: string; detail?: string; status?: number };
  if (doc.status !== answer.status) return `problem status ${String(doc.status)} on HTTP ${answer.status}`;
  if ((doc.detail ?? '').length > MAX_DETAIL_CHARS) return `detail of ${doc.detail?.length} characters`;
  if (answer.status === 400 && doc.code === 'SY_ERR_BAD_TARGET') return malformed(request) ? null : 'a well-formed target refused as malformed';
  if (malformed(request)) return `a malformed target answered ${answer.status} ${doc.code}`;
  if (answer.status === 404 && doc.code === 'SY_ERR_NO_ROUTE') return null;
  if (answer.status === 400 && doc.code === 'SY_ERR_PATH_TRAVERSAL') return hasDotSegment(request.path) ? null : 'refused as a traversal without a dot-segment';
  return `unexpected ${answer.status} ${doc.code}`;
}

function codeOf(answer: Answer): string {
  return answer.contentType.startsWith('application/problem+json') ? String((JSON.parse(answer.body) as { code?: unknown }).code) : `(${answer.contentType || 'no content-type'})`;
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

describe('proxy under random dot-segments, encodings and request-target forms', () => {
  it(`keeps each of ${RUNS} requests in its service or refuses it with a problem`, async () => {
    const requests = fc.sample(fuzzTarget, { seed: SEED, numRuns: RUNS });
    const failures: string[] = [];
    const outcomes = new Map<string, number>();
    await inParallel(requests, IN_FLIGHT, async (request, index) => {
      const id = `fuzz-${index}`;
      const answer = await send(request, id);
      const why = problemWith(request, answer, id);
      const key = answer.status === 200 ? `200 ${reached(id)?.service}` : `${answer.status} ${codeOf(answer)}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      if (why !== null) failures.push(`#${index}: ${why}\n    GET ${request.target} (Host: ${request.hostHeader})`);
    });
    console.log([...outcomes].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(', '));
    expect(failures, `${failures.length} bad answers (replay with FUZZ_SEED=${SEED}):\n${failures.slice(0, MAX_REPORTED).join('\n')}`).toEqual([]);
    // The mix must exercise every outcome, or the fuzz proves little.
    for (const outcome of ['200 fraud', '200 fraud-v2', '200 api', '200 fraud-eu', '400 SY_ERR_PATH_TRAVERSAL', '400 SY_ERR_BAD_TARGET', '404 SY_ERR_NO_ROUTE']) {
      expect(outcomes.get(outcome) ?? 0, outcome).toBeGreaterThan(0);
    }
  }, 120_000);
});
