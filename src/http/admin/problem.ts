import { randomUUID } from 'node:crypto';
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../../app/logger.js';
import { isSwitchyardError } from '../../core/errors.js';
import { problem, PROBLEM_TYPE, type Problem } from '../problem.js';

/** Paths echoed in a 404 are cut here so a long URL does not bloat the answer. */
const MAX_ECHO = 200;

/** Seconds a client should wait before retrying while the store is unreachable. */
const RETRY_AFTER_S = 5;

export function sendProblem(res: Response, body: Problem): void {
  if (body.status === 503) res.setHeader('Retry-After', String(RETRY_AFTER_S));
  res.status(body.status).type(PROBLEM_TYPE).json(body);
}

/** Unknown routes answer like every other error, never with express's HTML page. */
export const notFound: RequestHandler = (req, res) => {
  const path = req.originalUrl.split('?')[0] ?? '';
  const shown = path.length > MAX_ECHO ? `${path.slice(0, MAX_ECHO)}...` : path;
  sendProblem(res, problem('SY_ERR_NOT_FOUND', `no admin route for ${req.method} ${shown}; the API lives under /api/v1`));
};

interface HttpishError {
  readonly type?: unknown;
  readonly status?: unknown;
  readonly expose?: unknown;
  readonly message?: unknown;
  readonly limit?: unknown;
  readonly length?: unknown;
  readonly charset?: unknown;
  readonly encoding?: unknown;
}

/** The router's message for a path parameter that is not valid percent-encoding. */
const PARAM_DECODE = /^Failed to decode param '(.*)'$/s;

/** A 400 whose detail starts with the field it is about, listed in `errors` like a schema problem. */
function fieldProblem(field: string, message: string): Problem {
  return problem('SY_ERR_VALIDATION', `${field}: ${message}`, { errors: [{ field, message }] });
}

/** body-parser and router errors (http-errors objects) that describe the client's request. */
function clientProblem(err: HttpishError, req: Request): Problem | null {
  const message = String(err.message);
  switch (err.type) {
    case 'entity.parse.failed':
      return fieldProblem('body', `malformed JSON (${message})`);
    case 'entity.too.large':
      return problem('SY_ERR_PAYLOAD_TOO_LARGE', `body: ${String(err.length)} bytes is over the limit of ${String(err.limit)} bytes`, {
        limitBytes: err.limit,
      });
    case 'charset.unsupported':
      return fieldProblem('Content-Type', `charset ${String(err.charset).toUpperCase()} is not supported; send JSON as UTF-8`);
    case 'encoding.unsupported':
      return fieldProblem('Content-Encoding', `${JSON.stringify(String(err.encoding).slice(0, 40))} is not supported; send gzip, deflate, br or no encoding`);
  }
  const status = typeof err.status === 'number' ? err.status : 0;
  if (status < 400 || status >= 500 || err.expose === false) return null;
  const param = PARAM_DECODE.exec(message);
  if (param !== null) return fieldProblem('path', `${JSON.stringify((param[1] ?? '').slice(0, 100))} is not valid percent-encoding`);
  // zlib and brotli failures carry no type; the body did not match its Content-Encoding.
  const encoding = req.get('content-encoding');
  if (err.type === undefined && encoding !== undefined) return fieldProblem('body', `not valid ${encoding.slice(0, 40)} data (${message})`);
  return problem('SY_ERR_VALIDATION', message);
}

/** The one error handler: every failure leaves as application/problem+json; a 500 never shows a stack. */
export function problemHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (isSwitchyardError(err)) {
      sendProblem(res, problem(err.code, err.message, err.details));
      return;
    }
    const client = typeof err === 'object' && err !== null ? clientProblem(err as HttpishError, req) : null;
    if (client !== null) {
      sendProblem(res, client);
      return;
    }
    const errorId = randomUUID();
    log.error({ errorId, method: req.method, path: req.path, err: err instanceof Error ? err.stack : String(err) }, 'admin request failed');
    sendProblem(res, problem('SY_ERR_INTERNAL', `unexpected error; the gateway log has the details under errorId ${errorId}`, { errorId }));
  };
}
