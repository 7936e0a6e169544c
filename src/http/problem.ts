import { ERRORS, type ErrorCode } from '../core/errors.js';

export const PROBLEM_TYPE = 'application/problem+json';

/** An RFC 9457 problem document; `code` is the stable code callers match on. */
export function problem(code: ErrorCode, detail: string, extra: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  const { status, title } = ERRORS[code];
  return { type: `https://switchyard.dev/errors/${code}`, title, status, code, detail, ...extra };
}
