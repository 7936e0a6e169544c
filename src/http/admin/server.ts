import { createServer, STATUS_CODES, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorCode } from '../../core/errors.js';
import type { TlsFeed } from '../../tls/tls-registry.js';
import { problem, PROBLEM_TYPE, type Problem } from '../problem.js';
import { createAdminApp } from './app.js';
import type { AdminDeps } from './deps.js';
import { createTlsServer } from '../tls-listener.js';

/** Parser failures that have their own status; any other parse error is a plain 400. */
const CLIENT_ERRORS: Readonly<Record<string, ErrorCode>> = {
  HPE_HEADER_OVERFLOW: 'SY_ERR_HEADERS_TOO_LARGE',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'SY_ERR_PAYLOAD_TOO_LARGE',
  ERR_HTTP_REQUEST_TIMEOUT: 'SY_ERR_REQUEST_TIMEOUT',
};

/** The part of the request a parser error is about, so the detail names it like every other 400. */
function partOf(code: string): string {
  if (code === 'HPE_INVALID_METHOD') return 'method';
  if (code === 'HPE_INVALID_URL') return 'path';
  if (/HEADER|CONSTANT|LF_EXPECTED|CR_EXPECTED/.test(code)) return 'headers';
  if (/CONTENT_LENGTH|TRANSFER_ENCODING|CHUNK/.test(code)) return 'body';
  return 'request';
}

function clientErrorProblem(err: NodeJS.ErrnoException & { reason?: string }): Problem {
  const code = err.code ?? 'parse error';
  const mapped = CLIENT_ERRORS[code];
  if (mapped === 'SY_ERR_HEADERS_TOO_LARGE') return problem(mapped, 'headers: the request line and headers are over the 16 KiB limit; shorten the URL or the headers');
  if (mapped !== undefined) return problem(mapped, `request: ${err.reason ?? err.message} (${code})`);
  const field = partOf(code);
  const message = `not valid HTTP/1.1: ${err.reason ?? err.message} (${code})`;
  return problem('SY_ERR_VALIDATION', `${field}: ${message}`, { errors: [{ field, message }] });
}

/**
 * Requests node:http refuses before express sees them (bad method, header
 * overflow, malformed framing) get problem JSON too, never Node's bare answer.
 * Nothing is written while an answer is already on the wire, as Node's own handler does.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  // `_httpMessage` is the response in flight on this socket (Node's own check; no public equivalent).
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (!socket.writable || (inFlight?.headersSent ?? false)) {
    socket.destroy();
    return;
  }
  const doc = clientErrorProblem(err);
  const body = JSON.stringify(doc);
  socket.end(
    `HTTP/1.1 ${doc.status} ${STATUS_CODES[doc.status] ?? doc.title}\r\nContent-Type: ${PROBLEM_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * The admin API's server, not yet listening: the express app plus answers for
 * what Node refuses below it; HTTPS when the feed has `admin.tls` material.
 * The control plane (src/gateway/control-plane.ts) listens on the admin port, tests on port 0.
 */
export function createAdminServer(deps: AdminDeps, tls: TlsFeed | null = null): Server {
  const app = createAdminApp(deps);
  const material = tls?.current().admin ?? null;
  const server = tls === null || material === null ? createServer(app) : createTlsServer('admin', material, tls, deps.log, app);
  server.on('clientError', answerClientError);
  // Node answers 100-continue itself; any other expectation is refused as RFC 9110 §10.1.1 says.
  server.on('checkExpectation', (req, res: ServerResponse) => {
    const body = JSON.stringify(problem('SY_ERR_EXPECTATION_FAILED', `Expect: ${String(req.headers.expect).slice(0, 100)} is not supported; only 100-continue is`));
    // The body was never asked for, so the connection cannot be reused.
    res.writeHead(417, { 'Content-Type': PROBLEM_TYPE, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', Connection: 'close' });
    res.end(body);
  });
  return server;
}
