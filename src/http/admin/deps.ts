import type { ServiceCatalog } from '../../app/catalog.js';
import type { Clock } from '../../app/clock.js';
import type { RolloutCommands } from '../../app/commands.js';
import type { Logger } from '../../app/logger.js';
import type { RoutingTable } from '../../app/routing-table.js';
import type { AuditQuery } from '../../app/store.js';
import type { AuditEntry } from '../../core/audit.js';
import type { WindowSlice } from '../../core/analysis/window.js';
import type { Verdict } from '../../core/rollout-state.js';
import type { AdminToken } from './auth.js';
import type { MetricsSource } from './routes-metrics.js';

/** Whether this host's request path serves, for /readyz. */
export interface ProxyReadiness {
  /** The proxy port is bound (in one process), or at least one worker listens on it. */
  readonly listening: boolean;
  /** With `serve --workers N` only: workers listening now, and how many /readyz needs (`proxy.readyWorkers`). */
  readonly workers?: { readonly alive: number; readonly needed: number };
}

/** What the admin API needs; src/gateway/control-plane.ts passes the real ones, tests their own. */
export interface AdminDeps {
  readonly commands: RolloutCommands;
  readonly routing: RoutingTable;
  readonly catalog: ServiceCatalog;
  readonly clock: Clock;
  readonly log: Logger;
  readonly tokens: readonly AdminToken[];
  /** Reads the audit log, newest first (main passes `store.readAudit.bind(store)`). */
  readonly audit: (query: AuditQuery) => Promise<AuditEntry[]>;
  /** The Prometheus exposition served on /metrics. */
  readonly metrics: MetricsSource;
  /** The latest analysis verdict of a service (not part of the audited state). */
  readonly verdict: (service: string) => Promise<Verdict | null>;
  /**
   * Reads the analysis windows behind the console's charts (main passes
   * `(service, fromMs, toMs, widthMs) => store.readWindows(service, fromMs, toMs, widthMs)`).
   */
  readonly windows: (service: string, fromMs: number, toMs: number, widthMs: number) => Promise<WindowSlice[]>;
  /** The request path's readiness; absent (an admin app tested without a proxy), /readyz is the routing table's health alone. */
  readonly proxy?: () => ProxyReadiness;
}
