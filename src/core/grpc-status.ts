/**
 * gRPC's status codes and the few rules of its wire protocol the gateway needs
 * to judge and answer calls: the codes by name, the `grpc-timeout` header, the
 * percent-encoding of `grpc-message`, and how an HTTP status maps to a code.
 */

/** The codes by number (the index), as the `grpc-status` trailer carries them. */
export const GRPC_CODES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

export type GrpcCodeName = (typeof GRPC_CODES)[number];

export const GRPC_OK = 0;
export const GRPC_CANCELLED = 1;
export const GRPC_UNKNOWN = 2;
export const GRPC_DEADLINE_EXCEEDED = 4;
export const GRPC_UNIMPLEMENTED = 12;
export const GRPC_INTERNAL = 13;
export const GRPC_UNAVAILABLE = 14;

/** The codes counted as a version's failure unless `grpc.failingCodes` says otherwise. */
export const DEFAULT_FAILING_CODES: readonly GrpcCodeName[] = ['UNAVAILABLE', 'INTERNAL', 'UNKNOWN', 'DEADLINE_EXCEEDED', 'DATA_LOSS'];

/** A code given by name (`UNAVAILABLE`, any case) or number (14), or null when it is neither. */
export function parseGrpcCode(value: string | number): number | null {
  // YAML reads a quoted "14" as text: it still means the number.
  if (typeof value === 'string' && /^\s*\d{1,2}\s*$/.test(value)) return parseGrpcCode(Number(value));
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value < GRPC_CODES.length ? value : null;
  const at = GRPC_CODES.indexOf(value.trim().toUpperCase() as GrpcCodeName);
  return at === -1 ? null : at;
}

/** A code's name, or `CODE_<n>` for one outside the known seventeen. */
export function grpcCodeName(code: number): string {
  return GRPC_CODES[code] ?? `CODE_${code}`;
}

/**
 * The `grpc-status` a trailer carries: an integer, else UNKNOWN (the
 * protocol's own reading of a missing or garbled status).
 */
export function readGrpcStatus(value: string | string[] | undefined): number {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || !/^\d{1,3}$/.test(text)) return GRPC_UNKNOWN;
  return Number(text);
}

const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 };

/** A `grpc-timeout` header (`TimeoutValue TimeoutUnit`: at most 8 digits and one of H M S m u n) in milliseconds, or null when absent or malformed. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | null {
  const text = Array.isArray(value) ? value[0] : value;
  const match = text === undefined ? null : /^(\d{1,8})([HMSmun])$/.exec(text);
  if (match === null) return null;
  return Number(match[1]) * (TIMEOUT_UNIT_MS[match[2] ?? ''] ?? 0);
}

/** Milliseconds as a `grpc-timeout` value; whole milliseconds, at least 1, in the largest unit that keeps to 8 digits. */
export function formatGrpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  if (whole < 100_000_000) return `${whole}m`;
  const seconds = Math.ceil(whole / 1000);
  return seconds < 100_000_000 ? `${seconds}S` : `${Math.min(99_999_999, Math.ceil(seconds / 3600))}H`;
}

/**
 * `grpc-message` as the protocol sends it: percent-encoded outside printable
 * ASCII, and `%` itself, so any text (a path, a version name) survives.
 */
export function encodeGrpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The code for an answer that is not gRPC at all (a load balancer's or a
 * misrouted server's HTTP status), as gRPC's own HTTP-to-status table reads it.
 */
export function grpcCodeOfHttpStatus(status: number): number {
  switch (status) {
    case 400:
      return GRPC_INTERNAL;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return GRPC_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GRPC_UNAVAILABLE;
    default:
      return GRPC_UNKNOWN;
  }
}

/**
 * The code a gateway refusal (by its HTTP status, see core/errors) is sent to a
 * gRPC client with: the client's mistakes keep their meaning (no route is
 * UNIMPLEMENTED, a bad version INVALID_ARGUMENT), the gateway's trouble is UNAVAILABLE.
 */
export function grpcCodeOfRefusal(status: number): number {
  if (status === 404) return GRPC_UNIMPLEMENTED;
  if (status === 400) return 3;
  if (status === 413 || status === 431) return 8;
  if (status === 401) return 16;
  if (status === 403) return 7;
  if (status === 408 || status === 504) return GRPC_DEADLINE_EXCEEDED;
  if (status === 505) return GRPC_UNIMPLEMENTED;
  return status >= 500 ? GRPC_UNAVAILABLE : GRPC_UNKNOWN;
}
