import { Counter, Histogram, type Registry } from 'prom-client';
import type { RequestObserver, RequestRecord, StaleRetryReason } from '../app/request-observer.js';
import { GRPC_CODES, grpcCodeName } from '../core/grpc-status.js';

/**
 * The request path's share of the metrics: plain numbers in typed arrays, one
 * record per (service, version), found through two Map lookups. prom-client's
 * labelled `inc`/`observe` rebuild a label key, validate the labels and (for
 * histograms) look the bucket up on every call, about 1-2 µs a request; here a
 * request costs tens of nanoseconds and the work moves to the scrape, which
 * turns these totals into prom-client metrics.
 */

/** Exported status classes; the index is the hundreds digit, 0 when there was no valid status. */
export const STATUS_CLASSES = ['error', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** Appended to, never reordered: a cluster's workers send their counts as arrays by this index. */
export const UPSTREAM_ERROR_KINDS = ['connect', 'timeout', 'status', 'guardrail', 'tls'] as const;

/** Requests ended by a timeout: no answer's headers in time (504), an answer that stalled (cut), an upload that stalled (408). */
export const TIMEOUT_KINDS = ['request', 'response_idle', 'upload_idle'] as const;

/** Appended to, never reordered, like UPSTREAM_ERROR_KINDS. */
export const STALE_RETRY_REASONS: readonly StaleRetryReason[] = ['reset', 'hangup', 'epipe', 'refused'];

/** Model servers answer in milliseconds (small classifiers) to tens of seconds (generation). */
export const DEFAULT_LATENCY_BUCKETS_SECONDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30];

export function statusClass(status: number): StatusClass {
  return STATUS_CLASSES[status >= 100 && status < 600 ? Math.floor(status / 100) : 0] ?? 'error';
}

/** The counts of one (service, version), as a RequestSeries holds them and as they cross a process boundary. */
export interface SeriesCounts {
  readonly service: string;
  readonly version: string;
  readonly requests: ArrayLike<number>;
  readonly errors: ArrayLike<number>;
  readonly timeouts: ArrayLike<number>;
  readonly retries: ArrayLike<number>;
  readonly grpcCodes: ArrayLike<number>;
  readonly buckets: ArrayLike<number>;
  readonly sumSeconds: number;
  readonly count: number;
}

/** Running totals of one (service, version) since the process started. */
export class RequestSeries {
  /** Requests by STATUS_CLASSES index. */
  readonly requests = new Float64Array(STATUS_CLASSES.length);
  /** Upstream errors by UPSTREAM_ERROR_KINDS index. */
  readonly errors = new Float64Array(UPSTREAM_ERROR_KINDS.length);
  /** Requests ended by a timeout, by TIMEOUT_KINDS index. */
  readonly timeouts = new Float64Array(TIMEOUT_KINDS.length);
  /** Attempts sent again on a fresh connection after a stale one failed, by STALE_RETRY_REASONS index. */
  readonly retries = new Float64Array(STALE_RETRY_REASONS.length);
  /** gRPC calls by the `grpc-status` their client got (GRPC_CODES index); the last slot holds codes outside the seventeen. */
  readonly grpcCodes = new Float64Array(GRPC_CODES.length + 1);
  /** Latency observations per bucket, not cumulative; the last slot is above every bound. */
  readonly buckets: Float64Array;
  sumSeconds = 0;
  count = 0;

  constructor(
    readonly service: string,
    readonly version: string,
    bucketCount: number,
  ) {
    this.buckets = new Float64Array(bucketCount + 1);
  }
}

export class RequestTally implements RequestObserver {
  private readonly byService = new Map<string, Map<string, RequestSeries>>();
  readonly boundsSeconds: readonly number[];

  constructor(boundsSeconds: readonly number[] = DEFAULT_LATENCY_BUCKETS_SECONDS) {
    if (boundsSeconds.length === 0 || boundsSeconds.some((b, i) => !(b > 0) || !Number.isFinite(b) || (i > 0 && b <= (boundsSeconds[i - 1] ?? 0)))) {
      throw new RangeError(`latency buckets must be finite, positive and increasing: ${boundsSeconds.join(', ')}`);
    }
    this.boundsSeconds = [...boundsSeconds];
  }

  /** The hot path: O(1) apart from the bucket scan over a dozen bounds; no allocation after a series' first request. */
  observe(record: RequestRecord): void {
    const series = this.series(record.service, record.version);
    const status = record.status;
    series.requests[status >= 100 && status < 600 ? (status / 100) | 0 : 0]! += 1;
    switch (record.outcome) {
      case 'connect':
        series.errors[0]! += 1;
        break;
      case 'timeout':
        series.errors[1]! += 1;
        series.timeouts[0]! += 1;
        break;
      case 'response_idle':
        series.errors[1]! += 1;
        series.timeouts[1]! += 1;
        break;
      case 'upload_idle':
        series.timeouts[2]! += 1;
        break;
      case 'status':
        series.errors[2]! += 1;
        break;
      case 'guardrail':
        series.errors[3]! += 1;
        break;
      case 'tls':
        series.errors[4]! += 1;
        break;
      case 'ok':
        break;
    }
    if (record.staleRetry !== undefined) series.retries[STALE_RETRY_REASONS.indexOf(record.staleRetry)]! += 1;
    const code = record.grpcStatus;
    if (code !== undefined) series.grpcCodes[code >= 0 && code < GRPC_CODES.length ? code : GRPC_CODES.length]! += 1;
    const seconds = record.latencyMs / 1000;
    // A clock oddity must not poison the sum; such a request is still counted above.
    if (!(seconds >= 0) || seconds === Infinity) return;
    const bounds = this.boundsSeconds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    series.buckets[i]! += 1;
    series.sumSeconds += seconds;
    series.count += 1;
  }

  /** Adds another tally's counts (a cluster worker's, since its last batch); both must use the same latency bounds. */
  add(counts: SeriesCounts): void {
    const series = this.series(counts.service, counts.version);
    if (counts.buckets.length !== series.buckets.length) {
      throw new RangeError(`latency buckets differ: ${counts.buckets.length - 1} bounds given, ${series.buckets.length - 1} here`);
    }
    addInto(series.requests, counts.requests);
    addInto(series.errors, counts.errors);
    addInto(series.timeouts, counts.timeouts);
    addInto(series.retries, counts.retries);
    addInto(series.grpcCodes, counts.grpcCodes);
    addInto(series.buckets, counts.buckets);
    series.sumSeconds += counts.sumSeconds;
    series.count += counts.count;
  }

  /** Every series seen so far. */
  *all(): IterableIterator<RequestSeries> {
    for (const versions of this.byService.values()) yield* versions.values();
  }

  private series(service: string, version: string): RequestSeries {
    let versions = this.byService.get(service);
    if (versions === undefined) {
      versions = new Map();
      this.byService.set(service, versions);
    }
    let series = versions.get(version);
    if (series === undefined) {
      series = new RequestSeries(service, version, this.boundsSeconds.length);
      versions.set(version, series);
    }
    return series;
  }
}

function addInto(into: Float64Array, from: ArrayLike<number>): void {
  for (let i = 0; i < into.length && i < from.length; i++) into[i]! += from[i]!;
}

const DURATION_NAME = 'switchyard_request_duration_seconds';
const DURATION_HELP =
  'Time from receiving a proxied request to the end of its response (failed requests included), by service and version.';

type HistogramSnapshot = Awaited<ReturnType<Histogram['get']>>;

/**
 * A prom-client Histogram whose values come from a RequestTally at scrape time.
 * The registry reads a histogram through `getForPromString()` (and `get()` for
 * JSON); both are answered here from the tally.
 */
class TallyHistogram extends Histogram<'service' | 'version'> {
  constructor(
    registry: Registry,
    private readonly tally: RequestTally,
  ) {
    super({ name: DURATION_NAME, help: DURATION_HELP, labelNames: ['service', 'version'], buckets: [...tally.boundsSeconds], registers: [registry] });
  }

  override async get(): Promise<HistogramSnapshot> {
    return this.snapshot();
  }

  async getForPromString(): Promise<HistogramSnapshot> {
    return this.snapshot();
  }

  private snapshot(): HistogramSnapshot {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    const bounds = this.tally.boundsSeconds;
    for (const s of this.tally.all()) {
      const labels = { service: s.service, version: s.version };
      let cumulative = 0;
      for (let i = 0; i < bounds.length; i++) {
        cumulative += s.buckets[i]!;
        values.push({ labels: { ...labels, le: bounds[i]! }, value: cumulative, metricName: `${DURATION_NAME}_bucket` });
      }
      values.push({ labels: { ...labels, le: '+Inf' }, value: s.count, metricName: `${DURATION_NAME}_bucket` });
      values.push({ labels, value: s.sumSeconds, metricName: `${DURATION_NAME}_sum` });
      values.push({ labels, value: s.count, metricName: `${DURATION_NAME}_count` });
    }
    // prom-client's typings declare `type` as a numeric enum and a `collect` field;
    // at run time the registry reads the string type and no `collect` here.
    return { name: DURATION_NAME, help: DURATION_HELP, type: 'histogram', aggregator: 'sum', values } as unknown as HistogramSnapshot;
  }
}

/**
 * Registers the request metrics of `tally` on `registry`. Every class and error
 * kind of a (service, version) is exported from its first request on, zeros
 * included, so that `increase()` sees the first 5xx of a candidate (1xx only
 * once seen: a final status is rarely one).
 */
export function registerRequestMetrics(registry: Registry, tally: RequestTally): void {
  new Counter({
    name: 'switchyard_requests_total',
    help: 'Proxied requests by service, version and status class of the answer sent to the client (2xx..5xx; error when none was sent).',
    labelNames: ['service', 'version', 'status_class'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of tally.all()) {
        STATUS_CLASSES.forEach((statusClass, i) => {
          const n = s.requests[i]!;
          if (n > 0 || statusClass !== '1xx') this.inc({ service: s.service, version: s.version, status_class: statusClass }, n);
        });
      }
    },
  });
  new Counter({
    name: 'switchyard_upstream_errors_total',
    help: 'Failed upstream attempts by service, version and kind: connect (no connection), timeout (no answer in time, or an answer that stalled: switchyard_timeouts_total has which), status (answered with an error status), guardrail (answer outside the prediction guardrail), tls (the TLS handshake with an https:// target failed: certificate not trusted or expired, name mismatch, client certificate refused).',
    labelNames: ['service', 'version', 'kind'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of tally.all()) {
        UPSTREAM_ERROR_KINDS.forEach((kind, i) => this.inc({ service: s.service, version: s.version, kind }, s.errors[i]!));
      }
    },
  });
  new Counter({
    name: 'switchyard_timeouts_total',
    help: "Requests ended by a timeout, by service, version and kind: request (504: no connection within timeouts.connect, the body not read for timeouts.idle, or no response headers within timeouts.request of the whole request being sent), response_idle (the answer stopped for timeouts.idle after its headers and was cut), upload_idle (408: the client's upload stopped for timeouts.idle). request and response_idle are failures of the version, also in switchyard_upstream_errors_total{kind=\"timeout\"}; upload_idle is not.",
    labelNames: ['service', 'version', 'kind'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of tally.all()) TIMEOUT_KINDS.forEach((kind, i) => this.inc({ service: s.service, version: s.version, kind }, s.timeouts[i]!));
    },
  });
  new Counter({
    name: 'switchyard_upstream_retries_total',
    help: 'Requests sent again on a fresh connection because the reused keep-alive connection they went out on failed before any answer (the server had closed it while idle), by service, version and reason: reset (ECONNRESET), hangup (closed without an answer), epipe (EPIPE), refused (a new connection one target refused, the request then sent to another target of the version; or a gRPC call whose HTTP/2 stream the server refused unprocessed, as a model server shutting down gracefully does). Never counted as failures.',
    labelNames: ['service', 'version', 'reason'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of tally.all()) STALE_RETRY_REASONS.forEach((reason, i) => this.inc({ service: s.service, version: s.version, reason }, s.retries[i]!));
    },
  });
  new Counter({
    name: 'switchyard_grpc_calls_total',
    help: 'gRPC calls (services with protocol: grpc) by service, version and the grpc-status their client got (OK, UNAVAILABLE...; OTHER for a code outside the seventeen), the gateway\'s own status included when it answered for the version. Which codes are errors is grpc.failingCodes; those are in switchyard_upstream_errors_total{kind="status"} (DEADLINE_EXCEEDED: kind="timeout").',
    labelNames: ['service', 'version', 'code'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of tally.all()) {
        s.grpcCodes.forEach((n, i) => {
          if (n > 0) this.inc({ service: s.service, version: s.version, code: i < GRPC_CODES.length ? grpcCodeName(i) : 'OTHER' }, n);
        });
      }
    },
  });
  new TallyHistogram(registry, tally);
}
