import type { ServiceView } from '../../app/routing-table.js';
import type { Config } from '../../config/schema.js';
import type { WindowSlice } from '../../core/analysis/window.js';
import type { Override } from '../../core/override.js';
import type { RolloutState } from '../../core/rollout-state.js';
import type { SeriesCounts } from '../../metrics/request-tally.js';
import type { TlsBundle } from '../../tls/material.js';
import type { ShadowCounts } from '../../metrics/shadow-tally.js';

/**
 * What the cluster's primary and its proxy workers say to each other over the
 * IPC channel (structured clone: `serialization: 'advanced'`). The primary owns
 * the state; workers only route on it and report what they counted.
 */

/** One service's routing view as it crosses the channel. */
export interface WireView {
  readonly service: string;
  readonly state: RolloutState;
  readonly overrides: readonly Override[];
}

export type ToWorker =
  /** The answer to `hello`: the config to serve and every service's view. */
  | { readonly type: 'init'; readonly config: Config; readonly views: readonly WireView[]; readonly tls: TlsBundle }
  /** The TLS material changed (SIGHUP or a file rewritten on disk): new handshakes use it. */
  | { readonly type: 'tls'; readonly tls: TlsBundle }
  /** A service's view changed (a state or override write anywhere in the fleet). */
  | { readonly type: 'view'; readonly view: WireView }
  /** Shut down gracefully: the drain of a single process, then exit. */
  | { readonly type: 'drain' };

export type ToPrimary =
  /** The worker listens for messages and wants its init. */
  | { readonly type: 'hello' }
  /** The worker's proxy listens. */
  | { readonly type: 'ready'; readonly proxyUrl: string }
  /** The worker's proxy could not start (its port cannot be bound, say): one line saying why; the worker exits 1 after it. */
  | { readonly type: 'failed'; readonly detail: string }
  /** What the worker counted since its last batch: analysis windows and request metrics. */
  | { readonly type: 'batch'; readonly slices: readonly WindowSlice[]; readonly series: readonly SeriesCounts[]; readonly shadows: readonly ShadowCounts[] }
  | { readonly type: 'fallback'; readonly service: string; readonly from: string; readonly to: string }
  | { readonly type: 'ejection'; readonly service: string; readonly version: string; readonly target: string }
  /** Sent before the worker exits after a drain. */
  | { readonly type: 'drained'; readonly cut: number };

export function toWire(service: string, view: ServiceView): WireView {
  return { service, state: view.state, overrides: [...view.overrides.values()] };
}

export function fromWire(wire: WireView): ServiceView {
  return { state: wire.state, overrides: new Map(wire.overrides.map((o) => [o.key, o] as const)) };
}
