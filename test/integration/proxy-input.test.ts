import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { configYaml, startTestGateway } from '../helpers/gateway.js';

/**
 * Issue 5, "bad input", proxy side: what reaches the proxy over a raw socket,
 * byte for byte. Node's parser must keep refusing smuggling and bad headers,
 * and a large body must stream through. Issue 13: dot-segments never take a
 * request out of its service, and absolute-form request lines are served.
 */

const ANSWER_TIMEOUT_MS = 5_000;
/** Well past the 1 MiB replay cap, so the proxy must stream it rather than keep a copy. */
const HUGE_BODY_BYTES = 24 * 1024 * 1024;

let v1: TestBackend;
let v2: TestBackend;
let gateway: Gateway;
let port: number;

beforeAll(async () => {
  [v1, v2] = await Promise.all([startBackend('v1'), startBackend('v2')]);
  // A second service on the same prefix for one host only, served by v2's backend as its version `eu`.
  const euService = `  fraud-eu:\n    match: { pathPrefix: /fraud, host: eu.models.test }\n    versions:\n      eu: { targets: ["${v2.url}"] }\n    rollout: { stable: eu }\n`;
  gateway = await startTestGateway(configYaml({ v1: [v1.url], v2: [v2.url] }) + euService);
  port = Number(new URL(gateway.proxyUrl).port);
});

afterAll(async () => {
  await gateway.close();
  await Promise.all([v1.close(), v2.close()]);
});

interface RawAnswer {
  /** Everything the proxy wrote, as latin1. */
  readonly raw: string;
  readonly statusLine: string;
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

function parseAnswer(raw: string): RawAnswer {
  const end = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = raw.slice(0, end === -1 ? raw.length : end).split('\r\n');
  const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()] as const));
  return { raw, statusLine, status: Number(statusLine.split(' ')[1]), headers, body: end === -1 ? '' : raw.slice(end + 4) };
}

/**
 * Writes `request` on a fresh connection and reads until the proxy closes it
 * (every request here either says `Connection: close` or is refused, which closes).
 */
function exchange(request: string | Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(typeof request === 'string' ? Buffer.from(request, 'latin1') : request));
    const chunks: Buffer[] = [];
    socket.setTimeout(ANSWER_TIMEOUT_MS, () => socket.destroy(new Error(`the proxy kept the connection open: ${Buffer.concat(chunks).toString('latin1').slice(0, 200)}`)));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', (hadError) => {
      if (!hadError) resolve(parseAnswer(Buffer.concat(chunks).toString('latin1')));
    });
  });
}

/** A plain request on its own connection; its answer proves earlier connections were fully handled. */
async function sentinel(name: string): Promise<void> {
  const answer = await exchange(`GET /fraud/${name} HTTP/1.1\r\nHost: gw\r\nx-user-id: sentinel\r\nConnection: close\r\n\r\n`);
  expect(answer.status).toBe(200);
}

function seenPaths(): string[] {
  return [...v1.seen, ...v2.seen].map((s) => s.url);
}

/** What a backend received for the request sent with this x-request-id. */
function seenWith(requestId: string): { url: string; headers: Record<string, unknown> } | undefined {
  return [...v1.seen, ...v2.seen].find((s) => s.headers['x-request-id'] === requestId);
}

/** A GET with this request target on its own connection, tagged with `id` as its x-request-id. */
function getTarget(target: string, id: string, host = 'gw'): Promise<RawAnswer> {
  return exchange(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nx-user-id: u1\r\nx-request-id: ${id}\r\nConnection: close\r\n\r\n`);
}

function problemOf(answer: RawAnswer): { code: string; detail: string; service?: string } {
  expect(answer.headers.get('content-type'), answer.raw).toBe('application/problem+json');
  return JSON.parse(answer.body) as { code: string; detail: string; service?: string };
}

describe('oversized headers', () => {
  it('answers 431 to a header past the 16 KiB limit and closes the connection', async () => {
    const answer = await exchange(`GET /fraud/big HTTP/1.1\r\nHost: gw\r\nX-Big: ${'z'.repeat(20_000)}\r\n\r\n`);
    expect(answer.statusLine).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(answer.headers.get('connection')).toBe('close');
    expect(seenPaths()).not.toContain('/fraud/big');
  });

  it('answers 431 to a request line past the limit and to many small headers adding up past it', async () => {
    const longUrl = await exchange(`GET /fraud/${'u'.repeat(20_000)} HTTP/1.1\r\nHost: gw\r\n\r\n`);
    expect(longUrl.status).toBe(431);
    const many = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'v'.repeat(40)}\r\n`).join('');
    const manyHeaders = await exchange(`GET /fraud/many HTTP/1.1\r\nHost: gw\r\n${many}\r\n`);
    expect(manyHeaders.status).toBe(431);
    expect(seenPaths()).not.toContain('/fraud/many');
  });
});

describe('request smuggling', () => {
  const SMUGGLED = 'GET /fraud/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n';
  const attempts: ReadonlyArray<readonly [string, string]> = [
    ['CL.TE', `POST /fraud/front HTTP/1.1\r\nHost: gw\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
    ['TE.CL', `POST /fraud/front HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n${SMUGGLED}\r\n0\r\n\r\n`],
    ['two Content-Lengths', `POST /fraud/front HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n${SMUGGLED}`],
    ['a Content-Length list', `POST /fraud/front HTTP/1.1\r\nHost: gw\r\nContent-Length: 0, 44\r\n\r\n${SMUGGLED}`],
    ['Transfer-Encoding not ending in chunked', `POST /fraud/front HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked, identity\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`],
    ['space before the colon', `POST /fraud/front HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`],
    ['obs-fold in Transfer-Encoding', `POST /fraud/front HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`],
    ['a bare LF ending a header', `POST /fraud/front HTTP/1.1\r\nHost: gw\r\nX-A: b\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ];

  for (const [name, request] of attempts) {
    it(`refuses ${name} with 400, closes the connection, and the backend sees neither request`, async () => {
      const before = seenPaths().length;
      const answer = await exchange(request);
      expect(answer.statusLine, answer.raw).toBe('HTTP/1.1 400 Bad Request');
      expect(answer.headers.get('connection')).toBe('close');
      // One answer only: the smuggled request was never parsed as a second one.
      expect(answer.raw.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
      await sentinel(`after-${name.replace(/\W+/g, '-')}`);
      const reached = seenPaths().slice(before);
      expect(reached.filter((url) => !url.startsWith('/fraud/after-'))).toEqual([]);
    });
  }
});

describe('invalid header characters', () => {
  const requests: ReadonlyArray<readonly [string, string]> = [
    ['a control character in a value', 'X-Bad: a\x01b'],
    ['NUL in a value', 'X-Bad: a\x00b'],
    ['DEL in a name', 'X-B\x7fad: v'],
    ['a space in a name', 'X Bad: v'],
    ['a name with no colon', 'X-Bad'],
    ['a bare CR in a value', 'X-Bad: a\rb'],
  ];
  for (const [name, header] of requests) {
    it(`answers 400 to ${name} and closes the connection`, async () => {
      const answer = await exchange(`GET /fraud/bad-header HTTP/1.1\r\nHost: gw\r\n${header}\r\n\r\n`);
      expect(answer.statusLine, answer.raw).toBe('HTTP/1.1 400 Bad Request');
      expect(answer.headers.get('connection')).toBe('close');
      expect(seenPaths()).not.toContain('/fraud/bad-header');
    });
  }

  it('answers 400 to control characters or spaces in the request target', async () => {
    for (const target of ['/fraud/a\x01b', '/fraud/a b', '/fraud/a\x7fb']) {
      const answer = await exchange(`GET ${target} HTTP/1.1\r\nHost: gw\r\n\r\n`);
      expect(answer.status, JSON.stringify(target)).toBe(400);
    }
  });
});

describe('a malformed request pipelined behind a streaming answer', () => {
  it('ends the connection without writing a status line into the stream', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET /fraud/sse HTTP/1.1\r\nHost: gw\r\nx-user-id: pipe\r\n\r\n'));
      let data = '';
      socket.setTimeout(ANSWER_TIMEOUT_MS, () => socket.destroy(new Error(`the proxy kept the connection open: ${data.slice(0, 300)}`)));
      socket.on('data', (chunk: Buffer) => {
        const first = !data.includes('event 0');
        data += chunk.toString('latin1');
        // Once the stream has started, a garbage request follows on the same connection.
        if (first && data.includes('event 0')) socket.write('FOO\x01 / HTTP/1.1\r\n\r\n');
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(data));
    });
    expect(raw).toContain('data: event 0 from v1');
    expect(raw.match(/HTTP\/1\.1 \d{3}/g), raw).toEqual(['HTTP/1.1 200']);
  });
});

describe('x-model-version', () => {
  it('refuses an unknown version with 400 problem JSON listing the valid ones, and forwards nothing', async () => {
    const before = seenPaths().length;
    const answer = await exchange('GET /fraud/score HTTP/1.1\r\nHost: gw\r\nx-model-version: v9\r\nx-user-id: u1\r\nConnection: close\r\n\r\n');
    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toBe('application/problem+json');
    const body = JSON.parse(answer.body) as { code: string; detail: string; service: string; requestId: string };
    expect(body).toMatchObject({ code: 'SY_ERR_UNKNOWN_VERSION', service: 'fraud-scorer', requestId: answer.headers.get('x-request-id') });
    expect(body.detail).toContain('"v9"');
    expect(body.detail).toContain('valid versions: v1, v2');
    expect(seenPaths().length).toBe(before);
  });

  it('serves a known version asked for by name', async () => {
    const answer = await exchange('GET /fraud/score HTTP/1.1\r\nHost: gw\r\nx-model-version: v2\r\nConnection: close\r\n\r\n');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-model-version')).toBe('v2');
  });
});

/**
 * Writes a request with a large body in 64 KiB pieces (chunk-framed or not), honouring backpressure, and reads the answer;
 * `pauseMs` after each MiB makes it a slow upload, as a client on a slow link sends an image or audio.
 */
function streamBody(head: string, bytes: number, chunked: boolean, pauseMs = 0): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let left = bytes;
    const pump = (): void => {
      while (left > 0) {
        const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        const framed = chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from(`\r\n${left === 0 ? '0\r\n\r\n' : ''}`)]) : piece;
        const flushed = socket.write(framed);
        if (pauseMs > 0 && left > 0 && (bytes - left) % (1024 * 1024) === 0) {
          setTimeout(pump, pauseMs);
          return;
        }
        if (!flushed) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    socket.on('connect', () => {
      socket.write(head);
      pump();
    });
    const answer: Buffer[] = [];
    socket.setTimeout(20_000, () => socket.destroy(new Error(`no answer; ${left} bytes left to send`)));
    socket.on('data', (data: Buffer) => answer.push(data));
    socket.on('error', reject);
    socket.on('close', (hadError) => {
      if (!hadError) resolve(parseAnswer(Buffer.concat(answer).toString('latin1')));
    });
  });
}

describe('large bodies', () => {
  it(`streams a ${HUGE_BODY_BYTES / 1024 / 1024} MiB body through to stable even when its upload outlasts the request timeout`, async () => {
    const head = `POST /fraud/upload-stable HTTP/1.1\r\nHost: gw\r\nx-user-id: big\r\nContent-Type: application/octet-stream\r\nContent-Length: ${HUGE_BODY_BYTES}\r\nConnection: close\r\n\r\n`;
    // 100 ms after each MiB: the upload outlasts the 1 s request timeout, which counts only once the body is all upstream.
    const answer = await streamBody(head, HUGE_BODY_BYTES, false, 100);
    expect(answer.status, answer.raw.slice(0, 300)).toBe(200);
    const seen = v1.seen.find((s) => s.url === '/fraud/upload-stable');
    expect(seen?.body.length).toBe(HUGE_BODY_BYTES);
  }, 30_000);

  it('streams it to a candidate too, past the replay cap, and chunked', async () => {
    await gateway.commands.run('fraud-scorer', { type: 'start', candidate: 'v2' }, { actor: 'test' });
    await gateway.commands.run('fraud-scorer', { type: 'set-weight', weightBp: 10_000 }, { actor: 'test' });
    const head = 'POST /fraud/upload-candidate HTTP/1.1\r\nHost: gw\r\nx-user-id: big\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    const answer = await streamBody(head, HUGE_BODY_BYTES, true);
    expect(answer.status, answer.raw.slice(0, 300)).toBe(200);
    expect(answer.headers.get('x-model-version')).toBe('v2');
    expect(v2.seen.find((s) => s.url === '/fraud/upload-candidate')?.body.length).toBe(HUGE_BODY_BYTES);
  }, 30_000);
});

describe('dot-segments in the path', () => {
  const escapes: ReadonlyArray<readonly [string, string]> = [
    ['plain ..', '/fraud/../api/v1/services'],
    ['%2e%2e', '/fraud/%2e%2e/metrics'],
    ['%2E%2e', '/fraud/%2E%2e/metrics'],
    ['.%2e', '/fraud/.%2e/metrics'],
    ['..%2f', '/fraud/..%2fadmin'],
    ['..%2F..%2F', '/fraud/x%2F..%2F..%2Fadmin'],
    ['..%5c', '/fraud/..%5cadmin'],
    ['..\\', '/fraud/..\\admin'],
    ['..;', '/fraud/..;/admin'],
    ['.. past the service after a deeper segment', '/fraud/x/../../admin'],
    ['.. above the root', '/../fraud/score'],
    ['.. above the root in absolute-form', 'http://gw/fraud/../../etc/passwd'],
  ];

  for (const [name, target] of escapes) {
    it(`refuses ${name} with 400 problem JSON and forwards nothing`, async () => {
      const id = `traversal-${name.replace(/\W+/g, '-')}`;
      const answer = await getTarget(target, id);
      expect(answer.status, answer.raw).toBe(400);
      const problem = problemOf(answer);
      expect(problem.code).toBe('SY_ERR_PATH_TRAVERSAL');
      expect(problem.detail).toMatch(/climbs (out of the prefix \/fraud of service fraud-scorer|above the root) with "\.\."/);
      expect(answer.headers.get('x-request-id')).toBe(id);
      expect(seenWith(id)).toBeUndefined();
    });
  }

  it('repeats at most a bounded piece of a long path in the refusal', async () => {
    const target = `/fraud/${'a/'.repeat(3_000)}${'../'.repeat(3_002)}admin`;
    const problem = problemOf(await getTarget(target, 'traversal-long'));
    expect(problem.code).toBe('SY_ERR_PATH_TRAVERSAL');
    expect(problem.detail.length).toBeLessThan(200);
  });

  it('forwards the resolved path, with the query as received, when it stays in the service', async () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ['/fraud/x/../score?next=/../../admin', '/fraud/score?next=/../../admin'],
      ['/fraud/./a/%2e/b', '/fraud/a/b'],
      ['/fraud/a%2F..%2Fb', '/fraud/b'],
      ['/fraud/org%2Fmodel/score', '/fraud/org%2Fmodel/score'],
      ['/fr%61ud/%7Euser', '/fraud/~user'],
    ];
    for (const [i, [target, forwarded]] of cases.entries()) {
      const answer = await getTarget(target, `resolved-${i}`);
      expect(answer.status, `${target}: ${answer.raw}`).toBe(200);
      expect(seenWith(`resolved-${i}`)?.url, target).toBe(forwarded);
    }
  });

  it('refuses a WebSocket upgrade whose path climbs out of the service', async () => {
    const answer = await exchange(
      'GET /fraud/../ws HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nx-request-id: traversal-upgrade\r\n\r\n',
    );
    expect(answer.status, answer.raw).toBe(400);
    expect(problemOf(answer).code).toBe('SY_ERR_PATH_TRAVERSAL');
    expect(seenWith('traversal-upgrade')).toBeUndefined();
  });
});

describe('absolute-form request lines', () => {
  it('serves them and forwards the target in origin-form (RFC 9112 §3.2.2)', async () => {
    const answer = await getTarget('http://gw/fraud/absolute?x=1', 'absolute-plain');
    expect(answer.status, answer.raw).toBe(200);
    expect(['v1', 'v2']).toContain(answer.headers.get('x-model-version'));
    expect(seenWith('absolute-plain')?.url).toBe('/fraud/absolute?x=1');
  });

  it('matches the host of the URI, not the Host header, and reports it as x-forwarded-host', async () => {
    const answer = await getTarget('HTTP://eu.models.test:8080/fraud/score', 'absolute-eu', 'gw');
    expect(answer.status, answer.raw).toBe(200);
    expect(answer.headers.get('x-model-version')).toBe('eu');
    const seen = seenWith('absolute-eu');
    expect(seen?.url).toBe('/fraud/score');
    expect(seen?.headers['x-forwarded-host']).toBe('eu.models.test:8080');
    const originForm = await getTarget('/fraud/score', 'origin-gw', 'eu.models.test');
    expect(originForm.headers.get('x-model-version')).toBe('eu');
  });

  it('forwards an absolute URI without a path as the root', async () => {
    const answer = await getTarget('http://eu.models.test?x=1', 'absolute-root', 'gw');
    expect(answer.status, answer.raw).toBe(404);
    expect(problemOf(answer)).toMatchObject({ code: 'SY_ERR_NO_ROUTE', detail: 'no service matches "eu.models.test/"' });
  });

  it('refuses targets that are neither origin-form nor absolute http(s) with 400 problem JSON', async () => {
    for (const [i, target] of ['*', 'ftp://gw/fraud/score', 'http://user:pw@gw/fraud/score', '/fraud/score#fragment'].entries()) {
      const answer = await getTarget(target, `bad-target-${i}`);
      expect(answer.status, `${target}: ${answer.raw}`).toBe(400);
      expect(problemOf(answer).code, target).toBe('SY_ERR_BAD_TARGET');
      expect(seenWith(`bad-target-${i}`), target).toBeUndefined();
    }
  });
});
