/**
 * Every error the product reports has a stable code and an HTTP status. Callers
 * match on the code; the message is for the operator reading it.
 */
export const ERRORS = {
  SY_ERR_VALIDATION: { status: 400, title: 'Invalid request' },
  SY_ERR_UNKNOWN_SERVICE: { status: 404, title: 'Unknown service' },
  SY_ERR_UNKNOWN_VERSION: { status: 400, title: 'Unknown version' },
  SY_ERR_NOT_FOUND: { status: 404, title: 'Not found' },
  SY_ERR_ILLEGAL_TRANSITION: { status: 409, title: 'Command not allowed in this phase' },
  SY_ERR_STALE_REVISION: { status: 409, title: 'Stale revision' },
  SY_ERR_RELEASE_WINDOW_CLOSED: { status: 409, title: 'Outside the release windows' },
  SY_ERR_SHADOW_CONFLICT: { status: 409, title: 'Version cannot be shadowed' },
  SY_ERR_UNAUTHENTICATED: { status: 401, title: 'Missing or unknown token' },
  SY_ERR_FORBIDDEN: { status: 403, title: 'Token lacks the operator role' },
  SY_ERR_CLIENT_CERT: { status: 403, title: 'Client certificate not trusted' },
  SY_ERR_STORE_UNAVAILABLE: { status: 503, title: 'Store unreachable' },
  SY_ERR_SCHEMA_TOO_NEW: { status: 503, title: 'State written by a newer Switchyard' },
  SY_ERR_PAYLOAD_TOO_LARGE: { status: 413, title: 'Body too large' },
  SY_ERR_HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large' },
  SY_ERR_REQUEST_TIMEOUT: { status: 408, title: 'Request not received in time' },
  SY_ERR_EXPECTATION_FAILED: { status: 417, title: 'Expectation not supported' },
  SY_ERR_NO_ROUTE: { status: 404, title: 'No service matches this request' },
  SY_ERR_PATH_TRAVERSAL: { status: 400, title: 'Path climbs out of its service' },
  SY_ERR_BAD_TARGET: { status: 400, title: 'Malformed request target' },
  SY_ERR_HTTP_VERSION: { status: 505, title: 'Service not served over this HTTP version' },
  SY_ERR_NOT_GRPC: { status: 415, title: 'Not a gRPC request' },
  SY_ERR_UPSTREAM_CONNECT: { status: 502, title: 'Upstream unreachable' },
  SY_ERR_UPSTREAM_TIMEOUT: { status: 504, title: 'Upstream timed out' },
  SY_ERR_UPSTREAM_TLS: { status: 502, title: 'TLS to the upstream failed' },
  SY_ERR_CONFIG: { status: 500, title: 'Invalid configuration' },
  SY_ERR_INTERNAL: { status: 500, title: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class SwitchyardError extends Error {
  readonly status: number;
  readonly title: string;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = 'SwitchyardError';
    this.status = ERRORS[code].status;
    this.title = ERRORS[code].title;
  }
}

export function isSwitchyardError(value: unknown): value is SwitchyardError {
  return value instanceof SwitchyardError;
}
