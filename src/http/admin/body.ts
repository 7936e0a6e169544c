import express, { type RequestHandler } from 'express';
import { SwitchyardError } from '../../core/errors.js';
import { requireOperator } from './auth.js';

export const BODY_LIMIT_BYTES = 64 * 1024;

/** A body that is not JSON would otherwise reach the schema as "no body" and mislead the caller. */
const requireJson: RequestHandler = (req, _res, next) => {
  // `Content-Length: 0` (what clients send for a bare POST) counts as no body.
  const length = req.get('content-length');
  const hasBody = req.get('transfer-encoding') !== undefined || (length !== undefined && Number(length) > 0);
  if (hasBody && !req.is('application/json')) {
    next(
      new SwitchyardError('SY_ERR_VALIDATION', `body: send JSON with Content-Type: application/json (got ${req.get('content-type') ?? 'none'})`),
    );
    return;
  }
  next();
};

/**
 * Middleware in front of every write: the role is checked before the body is
 * read, so a read token cannot make the gateway parse anything.
 */
export function writeGuard(limitBytes = BODY_LIMIT_BYTES): RequestHandler[] {
  return [requireOperator, express.json({ limit: limitBytes, strict: true }), requireJson];
}
