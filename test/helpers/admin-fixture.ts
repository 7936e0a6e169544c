import { Metrics } from '../../src/metrics/metrics.js';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ServiceCatalog } from '../../src/app/catalog.js';
import { RolloutCommands } from '../../src/app/commands.js';
import { silentLogger, type Logger } from '../../src/app/logger.js';
import { RoutingTable } from '../../src/app/routing-table.js';
import type { StoreHealth } from '../../src/app/store.js';
import { parseConfig } from '../../src/config/load.js';
import { SwitchyardError } from '../../src/core/errors.js';
import type { Override } from '../../src/core/override.js';
import type { RolloutState } from '../../src/core/rollout-state.js';
import type { AdminDeps } from '../../src/http/admin/app.js';
import { createAdminServer } from '../../src/http/admin/server.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';

export const OPERATOR_TOKEN = 'operator-token-0123456789';
export const READ_TOKEN = 'read-only-token-0123456789';
/** 2025-01-06 10:00 UTC, a Monday. */
export const START_MS = Date.UTC(2025, 0, 6, 10, 0, 0);

export const ADMIN_CONFIG = `
admin:
  tokens:
    - { name: alice, token: "${OPERATOR_TOKEN}", role: operator }
    - { name: reader, token: "${READ_TOKEN}", role: read }
services:
  fraud-scorer:
    match: { pathPrefix: /fraud }
    stickiness: { header: x-user-id }
    versions:
      v1: { targets: ["http://127.0.0.1:9001"] }
      v2: { targets: ["http://127.0.0.1:9002"] }
      v3: { targets: ["http://127.0.0.1:9003"] }
    rollout:
      stable: v1
      strategy: canary
      steps: [ { weight: 5, bake: 1m }, { weight: 25, bake: 2m }, { weight: 100, bake: 1m } ]
  ranker:
    match: { pathPrefix: /rank }
    versions:
      blue: { targets: ["http://127.0.0.1:9011"] }
      green: { targets: ["http://127.0.0.1:9012"] }
    rollout: { stable: blue, strategy: blue-green }
`;

/** A memory store that can be made unreachable, like Redis going away. */
export class OutageStore extends MemoryStore {
  down = false;

  private check(): void {
    if (this.down) throw new SwitchyardError('SY_ERR_STORE_UNAVAILABLE', 'store unreachable: connect ECONNREFUSED 127.0.0.1:6379');
  }

  override async getState(service: string): Promise<RolloutState | null> {
    this.check();
    return super.getState(service);
  }

  override async listOverrides(service: string, now: number): Promise<Override[]> {
    this.check();
    return super.listOverrides(service, now);
  }

  override health(): StoreHealth {
    return this.down ? { up: false, reason: 'connect ECONNREFUSED 127.0.0.1:6379' } : super.health();
  }
}

export interface CallOptions {
  readonly token?: string | null;
  readonly body?: unknown;
  /** Sent as is, without JSON encoding. */
  readonly raw?: string;
  readonly headers?: Record<string, string>;
}

export interface CallResult {
  readonly status: number;
  readonly headers: Headers;
  readonly body: any;
}

export interface AdminFixture {
  readonly url: string;
  readonly store: OutageStore;
  readonly commands: RolloutCommands;
  readonly routing: RoutingTable;
  readonly catalog: ServiceCatalog;
  readonly clock: { now(): number; advance(ms: number): void };
  call(method: string, path: string, options?: CallOptions): Promise<CallResult>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  readonly log?: Logger;
  /** Replaces parts of the deps, e.g. a commands object that fails. */
  readonly patch?: (deps: AdminDeps) => AdminDeps;
  /** Another config text than ADMIN_CONFIG, e.g. with release windows. */
  readonly config?: string;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The admin API on a real loopback port, over the in-memory store, with a driven clock. */
export async function startAdmin(options: FixtureOptions = {}): Promise<AdminFixture> {
  let t = START_MS;
  const clock = { now: () => t, advance: (ms: number) => void (t += ms) };
  const config = parseConfig(options.config ?? ADMIN_CONFIG, {});
  const store = new OutageStore();
  const catalog = new ServiceCatalog(config.services);
  const commands = new RolloutCommands(store, catalog, clock);
  const log = options.log ?? silentLogger;
  const routing = new RoutingTable(store, catalog, clock, log);
  await routing.start(await commands.seed(), 60_000);
  const base: AdminDeps = { commands, routing, catalog, clock, log, tokens: config.admin.tokens, audit: (q) => store.readAudit(q), metrics: new Metrics({ clock, processMetrics: false }), verdict: (service) => store.getVerdict(service), windows: (s, f, t, w) => store.readWindows(s, f, t, w) };
  const server = createAdminServer(options.patch ? options.patch(base) : base);
  const url = await listen(server);

  const call = async (method: string, path: string, opts: CallOptions = {}): Promise<CallResult> => {
    const headers: Record<string, string> = { ...opts.headers };
    const token = opts.token === undefined ? OPERATOR_TOKEN : opts.token;
    if (token !== null) headers['authorization'] ??= `Bearer ${token}`;
    let body: string | undefined = opts.raw;
    if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === '' ? null : JSON.parse(text) };
  };

  const close = async (): Promise<void> => {
    routing.stop();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  };

  return { url, store, commands, routing, catalog, clock, call, close };
}
