import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { SwitchyardError } from '../../core/errors.js';
import { unverifiedClientCert } from '../tls-listener.js';

export type Role = 'read' | 'operator';

export interface AdminToken {
  readonly name: string;
  readonly token: string;
  readonly role: Role;
}

/** Who is calling: the token's name is the actor written to the audit log. */
export interface Caller {
  readonly name: string;
  readonly role: Role;
}

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;
const CHALLENGE = 'Bearer realm="switchyard"';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Compares the presented token with every configured one in constant time: both
 * sides are hashed to equal-length digests, and the loop never stops early, so
 * neither the length nor the position of a match leaks through timing.
 */
function matcher(tokens: readonly AdminToken[]): (presented: string) => Caller | null {
  const known = tokens.map((t) => ({ caller: { name: t.name, role: t.role }, digest: digest(t.token) }));
  return (presented) => {
    const candidate = digest(presented);
    let found: Caller | null = null;
    for (const entry of known) {
      if (timingSafeEqual(candidate, entry.digest) && found === null) found = entry.caller;
    }
    return found;
  };
}

function unauthenticated(res: Response, detail: string, invalid: boolean): SwitchyardError {
  res.setHeader('WWW-Authenticate', invalid ? `${CHALLENGE}, error="invalid_token"` : CHALLENGE);
  return new SwitchyardError('SY_ERR_UNAUTHENTICATED', detail);
}

/** Every /api/v1 call needs a known bearer token; the caller lands in `res.locals.caller`. */
export function authenticate(tokens: readonly AdminToken[]): RequestHandler {
  const match = matcher(tokens);
  return (req, res, next) => {
    const header = req.get('authorization');
    if (header === undefined || header.trim() === '') {
      next(unauthenticated(res, 'send Authorization: Bearer TOKEN with a token from admin.tokens in the config', false));
      return;
    }
    const presented = BEARER.exec(header)?.[1];
    const caller = presented === undefined ? null : match(presented);
    if (caller === null) {
      const why = presented === undefined ? 'the Authorization header is not "Bearer TOKEN"' : 'the token is not one of admin.tokens';
      next(unauthenticated(res, `${why}; check the token you were given`, true));
      return;
    }
    res.locals['caller'] = caller;
    next();
  };
}

export function callerOf(res: Response): Caller {
  const caller = res.locals['caller'] as Caller | undefined;
  if (caller === undefined) throw new Error('callerOf used on a route without authenticate()');
  return caller;
}

/** Writes need the operator role; a read token gets 403 and nothing is applied. */
export const requireOperator: RequestHandler = (req, res, next) => {
  const caller = callerOf(res);
  if (caller.role === 'operator') {
    next();
    return;
  }
  next(
    new SwitchyardError(
      'SY_ERR_FORBIDDEN',
      `token ${caller.name} has the ${caller.role} role; ${req.method} ${req.baseUrl}${req.path} needs an operator token`,
      { role: caller.role },
    ),
  );
};

/**
 * With `admin.tls.clientAuth: optional` a client certificate that did not
 * verify is refused on every path (unverifiedClientCert says why); a client
 * that sends none goes on to the token check as before.
 */
export const refuseUnverifiedClientCert: RequestHandler = (req, _res, next) => {
  const refused = unverifiedClientCert(req.socket, 'admin');
  next(refused === null ? undefined : new SwitchyardError('SY_ERR_CLIENT_CERT', refused));
};
