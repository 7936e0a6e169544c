/** How a proxied request ended, as the metrics and the analysis count it. */
/** `guardrail`: the answer broke the service's prediction guardrail; the analysis counts it as an error. */
export type Outcome = 'ok' | 'status' | 'timeout' | 'connect' | 'guardrail';

export interface RequestRecord {
  readonly service: string;
  readonly version: string;
  /** The sticky key, for counting distinct failing users. */
  readonly key: string;
  /** The status sent to the client (0 when the client went away first). */
  readonly status: number;
  readonly outcome: Outcome;
  readonly latencyMs: number;
}

/**
 * Called once per proxied request when it ends, on the request path: an
 * implementation only increments local counters, it never awaits anything.
 */
export interface RequestObserver {
  observe(record: RequestRecord): void;
}

export const ignoreRequests: RequestObserver = { observe: () => undefined };
