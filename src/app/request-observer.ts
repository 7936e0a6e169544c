import type { PairResult } from '../core/shadow/comparison.js';

/**
 * How a proxied request ended, as the metrics and the analysis count it.
 * `timeout`: no connection or no response headers in time (504).
 * `tls`: the TLS handshake with an https:// target failed (an untrusted or expired certificate, a name mismatch, a client certificate refused): 502.
 * `guardrail`: the answer broke the service's prediction guardrail; the analysis counts it as an error.
 * `response_idle`: the answer stopped for `timeouts.idle` after its headers and was cut, a timeout of the version.
 * `upload_idle`: the client's upload stopped for `timeouts.idle` (408): the client's doing, never the version's.
 */
export type Outcome = 'ok' | 'status' | 'timeout' | 'connect' | 'tls' | 'guardrail' | 'response_idle' | 'upload_idle';

/** Whether an outcome is a failure of the version that served it (an error in the metrics and the analysis windows). */
export function failedVersion(outcome: Outcome): boolean {
  return outcome !== 'ok' && outcome !== 'upload_idle';
}

/**
 * Why a request was sent again on a fresh connection: the reused keep-alive
 * connection it went out on failed before any byte of an answer, the way a
 * connection the server closed while idle fails. `reset`: ECONNRESET; `hangup`:
 * closed without an answer ("socket hang up"); `epipe`: EPIPE. `refused`: a
 * gRPC call's HTTP/2 stream that the server refused unprocessed (REFUSED_STREAM,
 * or opened as its session went away: a model server shutting down gracefully).
 */
export type StaleRetryReason = 'reset' | 'hangup' | 'epipe' | 'refused';

export interface RequestRecord {
  readonly service: string;
  readonly version: string;
  /** The sticky key, for counting distinct failing users. */
  readonly key: string;
  /** The status sent to the client (0 when the client went away first). */
  readonly status: number;
  readonly outcome: Outcome;
  readonly latencyMs: number;
  /** A gRPC call's `grpc-status` as the client got it (the gateway's own when it answered for the version). */
  readonly grpcStatus?: number | undefined;
  /** A gRPC call: milliseconds to the first response message, or to the end when none came; what the analysis compares. */
  readonly firstMessageMs?: number | undefined;
  /** Set when this attempt was sent again on a fresh connection after a stale one failed; never a failure by itself. */
  readonly staleRetry?: StaleRetryReason | undefined;
}

/**
 * Called once per proxied request when it ends, on the request path: an
 * implementation only increments local counters, it never awaits anything.
 */
export interface RequestObserver {
  observe(record: RequestRecord): void;
}

export const ignoreRequests: RequestObserver = { observe: () => undefined };

/** One side of a mirrored pair: the shadow's answer to the copy, or stable's answer to the client. */
export interface ShadowSide {
  readonly status: number;
  readonly outcome: Outcome;
  readonly latencyMs: number;
}

/** Why a copy for the shadow was not sent. */
export type ShadowDrop = 'concurrency' | 'body';

/** A mirrored request once both its answers are in (see src/http/proxy/shadow-copy.ts). */
export interface ShadowRecord {
  readonly service: string;
  /** The shadow version. */
  readonly version: string;
  readonly key: string;
  readonly shadow: ShadowSide;
  /** Stable's answer to the same request, as the client got it. */
  readonly base: ShadowSide;
  /** The predictions compared, when a prediction field is configured and both answers had one. */
  readonly pair: PairResult | null;
}

/** The shadow's share of the request path: local counters only, like RequestObserver. */
export interface ShadowObserver {
  observeShadow(record: ShadowRecord): void;
  dropped(service: string, version: string, why: ShadowDrop): void;
}

export const ignoreShadows: ShadowObserver = { observeShadow: () => undefined, dropped: () => undefined };
