import { ERRORS, type ErrorCode } from '../core/errors.js';

export const PROBLEM_TYPE = 'application/problem+json';

/** RFC 9457 problem details, with the stable Switchyard code beside them. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly [extra: string]: unknown;
}

const RESERVED = new Set(['type', 'title', 'status', 'code', 'detail']);

/** The one problem builder for the proxy and the admin API; `code` is what callers match on. */
export function problem(code: ErrorCode, detail: string, details: Readonly<Record<string, unknown>> = {}): Problem {
  const { status, title } = ERRORS[code];
  const extra = Object.fromEntries(Object.entries(details).filter(([key]) => !RESERVED.has(key)));
  return { type: `https://switchyard.dev/errors/${code}`, title, status, code, detail, ...extra };
}
