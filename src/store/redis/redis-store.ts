import { ReplyError, type Cluster, type Redis } from 'ioredis';
import { silentLogger, type Logger } from '../../app/logger.js';
import type { AuditQuery, CasResult, Store, StoreChange, StoreHealth } from '../../app/store.js';
import { bucketStarts, type WindowSlice } from '../../core/analysis/window.js';
import type { AuditEntry, NewAuditEntry } from '../../core/audit.js';
import { SwitchyardError } from '../../core/errors.js';
import { isLive, type Override } from '../../core/override.js';
import { parseStoredState, STATE_SCHEMA_VERSION, type RolloutState, type Verdict } from '../../core/rollout-state.js';
import { newestFirstPage } from './audit-page.js';
import { changesChannel, leaseKey, serviceKeys, type ServiceKeys } from './keys.js';
import { defineScripts, outcome, type ScriptOutcome, type RunScript } from './scripts.js';
import { decodeVerdict, encodeVerdict } from './verdict-codec.js';
import { decodeWindowHash, execAll, windowReads, windowWrites } from './windows.js';

export interface RedisStoreTuning {
  /** Approximate number of audit entries kept per service. */
  readonly auditCap?: number;
  /** How long operations wait for the very first connection (start-up); once connected they fail fast. */
  readonly startupWaitMs?: number;
}

export interface RedisStoreOptions extends RedisStoreTuning {
  /** Commands and scripts. */
  readonly client: Redis | Cluster;
  /** Change messages only: a subscribed connection cannot run commands. */
  readonly subscriber: Redis | Cluster;
  readonly keyPrefix: string;
  readonly log?: Logger;
}

/** Reply errors that mean "Redis cannot serve right now" rather than a bug in the request. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS)\b/;
/** A pin that keeps changing under a delete gives up after this many reads. */
const DELETE_ATTEMPTS = 8;

type Link = 'command' | 'subscriber';

/**
 * The store shared by every gateway replica. Writes are Lua scripts that check,
 * write, append the audit entry and publish the change in one step; replicas hear
 * changes on one channel. While Redis is unreachable every call fails at once with
 * SY_ERR_STORE_UNAVAILABLE, and both connections keep reconnecting in the background.
 */
export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  private readonly client: Redis | Cluster;
  private readonly subscriber: Redis | Cluster;
  private readonly prefix: string;
  private readonly channel: string;
  private readonly log: Logger;
  private readonly auditCap: number;
  private readonly script: RunScript;
  private readonly changeListeners = new Set<(change: StoreChange) => void>();
  private readonly healthListeners = new Set<(health: StoreHealth) => void>();
  private readonly links: Record<Link, { up: boolean; reason: string; lastError: string | null }> = {
    command: { up: false, reason: 'connecting', lastError: null },
    subscriber: { up: false, reason: 'connecting', lastError: null },
  };
  private current: StoreHealth = { up: false, reason: 'redis: connecting' };
  /** Bumped on every (re)connect of the subscriber, so a late SUBSCRIBE reply of a dead connection is ignored. */
  private subscribeEpoch = 0;
  private readonly firstConnect: Promise<void>;
  private startupTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: RedisStoreOptions) {
    this.client = options.client;
    this.subscriber = options.subscriber;
    this.prefix = options.keyPrefix;
    this.channel = changesChannel(options.keyPrefix);
    this.log = options.log ?? silentLogger;
    this.auditCap = options.auditCap ?? 10_000;
    this.script = defineScripts(this.client);
    // Callers (the gateway's seeding) may start before the first connection is made.
    let connected!: () => void;
    this.firstConnect = new Promise<void>((resolve) => {
      connected = resolve;
      this.startupTimer = setTimeout(resolve, options.startupWaitMs ?? 5_000).unref();
    }).finally(() => clearTimeout(this.startupTimer));
    this.watch('command', this.client, () => {
      connected();
      this.linkUp('command');
    });
    this.watch('subscriber', this.subscriber, () => this.resubscribe());
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.deliver(message);
    });
  }

  async getState(service: string): Promise<RolloutState | null> {
    const keys = this.keys(service);
    const doc = await this.redis(() => this.client.hget(keys.state, 'doc'));
    return doc === null ? null : parseStoredState(doc);
  }

  async initState(state: RolloutState, audit: NewAuditEntry): Promise<RolloutState> {
    const keys = this.keys(state.service);
    const args = [state.revision, state.schemaVersion, JSON.stringify(state)];
    const result = await this.write('initState', [keys.state, keys.audit], args, audit, { type: 'state', state });
    if (result.kind === 'done') return state;
    if (result.kind === 'noop' && result.payload !== null) return parseStoredState(result.payload);
    throw unexpected('initState', result);
  }

  async compareAndSet(expectedRevision: number, next: RolloutState, audit: NewAuditEntry): Promise<CasResult> {
    const keys = this.keys(next.service);
    const args = [expectedRevision, next.revision, next.schemaVersion, JSON.stringify(next), STATE_SCHEMA_VERSION];
    const result = await this.write('casState', [keys.state, keys.audit], args, audit, { type: 'state', state: next });
    if (result.kind === 'done') return { ok: true, state: next, auditId: result.payload };
    if (result.kind === 'stale') return { ok: false, current: result.payload === null ? null : parseStoredState(result.payload) };
    throw unexpected('casState', result);
  }

  async listOverrides(service: string, now: number): Promise<Override[]> {
    const keys = this.keys(service);
    const docs = await this.redis(() => this.script('listOverrides', [keys.overrides, keys.overrideExpiry], [now]));
    return (docs as string[]).map((doc) => JSON.parse(doc) as Override);
  }

  async putOverride(override: Override, audit: NewAuditEntry): Promise<void> {
    const keys = this.keys(override.service);
    const args = [override.key, JSON.stringify(override), override.expiresAt];
    const change: StoreChange = { type: 'overrides', service: override.service };
    const result = await this.write('putOverride', [keys.overrides, keys.overrideExpiry, keys.audit], args, audit, change);
    if (result.kind !== 'done') throw unexpected('putOverride', result);
  }

  async restoreOverride(override: Override, audit: NewAuditEntry): Promise<Override> {
    const keys = this.keys(override.service);
    const args = [override.key, JSON.stringify(override), override.expiresAt];
    const change: StoreChange = { type: 'overrides', service: override.service };
    const result = await this.write('restoreOverride', [keys.overrides, keys.overrideExpiry, keys.audit], args, audit, change);
    if (result.kind === 'done') return override;
    if (result.kind === 'noop' && result.payload !== null) return JSON.parse(result.payload) as Override;
    throw unexpected('restoreOverride', result);
  }

  async deleteOverride(service: string, key: string, audit: (removed: Override) => NewAuditEntry, now: number): Promise<Override | null> {
    const keys = this.keys(service);
    for (let attempt = 0; attempt < DELETE_ATTEMPTS; attempt++) {
      const doc = await this.redis(() => this.client.hget(keys.overrides, key));
      if (doc === null) return null;
      const removed = JSON.parse(doc) as Override;
      // The script removes an expired pin silently, so its audit entry is never built.
      const entry = isLive(removed, now) ? JSON.stringify(audit(removed)) : '';
      const args = [key, doc, now, entry, this.auditCap, this.channel, JSON.stringify({ type: 'overrides', service } satisfies StoreChange)];
      const result = outcome(await this.redis(() => this.script('deleteOverride', [keys.overrides, keys.overrideExpiry, keys.audit], args)));
      if (result.kind === 'done') return removed;
      if (result.kind === 'noop') return null;
      // 'changed': the pin was replaced between the read and the script; read it again.
    }
    throw new SwitchyardError('SY_ERR_STALE_REVISION', `override ${key} of service ${service} kept changing while it was being deleted; try again`);
  }

  async readAudit(query: AuditQuery): Promise<AuditEntry[]> {
    const streams = [...new Set(query.services)].map((service) => this.keys(service).audit);
    if (query.limit <= 0 || streams.length === 0) return [];
    const end = query.before === undefined ? '+' : `(${query.before}`;
    const pages = await this.redis(() => Promise.all(streams.map((stream) => this.client.xrevrange(stream, end, '-', 'COUNT', query.limit))));
    const entries = pages.flat().map(([id, fields]) => ({ ...(JSON.parse(fields[1] ?? 'null') as NewAuditEntry), id }));
    return newestFirstPage(entries, query.limit);
  }

  /**
   * While Redis is unreachable this fails before anything is sent, so the flusher's
   * retry counts exactly. Only a reply lost after Redis applied a transaction (a
   * timeout or a connection dropped mid-flight) makes the retry count its slices twice.
   */
  async addWindows(slices: readonly WindowSlice[], ttlMs: number): Promise<void> {
    if (slices.length === 0) return;
    const transactions = windowWrites(this.client, (service) => this.keys(service), slices, ttlMs);
    await this.redis(() => Promise.all(transactions.map(execAll)));
  }

  /** The bucket keys are computed from the range (no SCAN) and read in one pipeline. */
  async readWindows(service: string, fromMs: number, toMs: number, widthMs: number): Promise<WindowSlice[]> {
    const starts = bucketStarts(fromMs, toMs, widthMs);
    if (starts.length === 0) return [];
    const keys = this.keys(service);
    const hashes = await this.redis(() => execAll(windowReads(this.client, keys, starts)));
    return starts.flatMap((bucketMs, i) => decodeWindowHash(service, bucketMs, hashes[i] as Record<string, string>));
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const key = leaseKey(this.prefix, name);
    return (await this.redis(() => this.script('acquireLease', [key], [holder, ttlMs]))) === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    const key = leaseKey(this.prefix, name);
    await this.redis(() => this.script('releaseLease', [key], [holder]));
  }

  async putVerdict(service: string, verdict: Verdict): Promise<void> {
    const keys = this.keys(service);
    await this.redis(() => this.client.set(keys.verdict, encodeVerdict(verdict)));
  }

  async getVerdict(service: string): Promise<Verdict | null> {
    const keys = this.keys(service);
    const json = await this.redis(() => this.client.get(keys.verdict));
    if (json === null) return null;
    const verdict = decodeVerdict(json);
    if (verdict === null) this.log.warn({ service }, 'ignoring a stored verdict this replica cannot read');
    return verdict;
  }

  subscribe(listener: (change: StoreChange) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  onHealth(listener: (health: StoreHealth) => void): () => void {
    this.healthListeners.add(listener);
    return () => this.healthListeners.delete(listener);
  }

  health(): StoreHealth {
    return this.current;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.current = { up: false, reason: 'redis: store closed' };
    this.changeListeners.clear();
    this.healthListeners.clear();
    clearTimeout(this.startupTimer);
    await Promise.all([disconnect(this.client), disconnect(this.subscriber)]);
  }

  private keys(service: string): ServiceKeys {
    return serviceKeys(this.prefix, service);
  }

  /** Runs a writing script: its own arguments, then the audit entry and the change message every writer takes. */
  private async write(
    name: 'initState' | 'casState' | 'putOverride' | 'restoreOverride',
    keys: string[],
    args: Array<string | number>,
    audit: NewAuditEntry,
    change: StoreChange,
  ): Promise<ScriptOutcome> {
    const common = [audit.at, JSON.stringify(audit), this.auditCap, this.channel, JSON.stringify(change)];
    return outcome(await this.redis(() => this.script(name, keys, [...args, ...common])));
  }

  /** Every Redis call goes through here: connection failures become SY_ERR_STORE_UNAVAILABLE. */
  private async redis<T>(call: () => Promise<T>): Promise<T> {
    await this.firstConnect;
    if (this.client.status !== 'ready') throw unavailable(this.links.command.reason);
    try {
      return await call();
    } catch (err) {
      if (err instanceof ReplyError && !TRANSIENT_REPLY.test((err as Error).message)) throw err;
      throw unavailable(err instanceof Error ? err.message : String(err));
    }
  }

  private watch(link: Link, client: Redis | Cluster, onReady: () => void): void {
    const state = this.links[link];
    const closed = (reason: string) => {
      // A SUBSCRIBE still awaiting its reply belonged to the connection that just closed.
      if (link === 'subscriber') this.subscribeEpoch++;
      this.linkDown(link, reason);
    };
    client.on('ready', onReady);
    client.on('error', (err: Error) => {
      state.lastError = errorText(err);
      if (!state.up) this.linkDown(link, state.lastError);
    });
    client.on('close', () => closed(state.lastError ?? 'connection closed'));
    client.on('end', () => closed('connection closed for good'));
    if (client.status === 'ready') onReady();
  }

  /** Subscribes again on every connect: only after Redis confirms is the replica hearing changes. */
  private resubscribe(): void {
    const epoch = ++this.subscribeEpoch;
    this.subscriber.subscribe(this.channel).then(
      () => {
        if (epoch === this.subscribeEpoch) this.linkUp('subscriber');
      },
      (err: Error) => this.linkDown('subscriber', err.message),
    );
  }

  private linkUp(link: Link): void {
    Object.assign(this.links[link], { up: true, lastError: null });
    this.updateHealth();
  }

  private linkDown(link: Link, reason: string): void {
    Object.assign(this.links[link], { up: false, reason: link === 'command' ? reason : `change feed: ${reason}` });
    this.updateHealth();
  }

  private updateHealth(): void {
    if (this.closed) return;
    const { command, subscriber } = this.links;
    const down = !command.up ? command : !subscriber.up ? subscriber : null;
    const was = this.current.up;
    this.current = down === null ? { up: true, reason: null } : { up: false, reason: `redis: ${down.reason}` };
    if (this.current.up === was) return;
    if (this.current.up) this.log.info({}, 'store reachable');
    else this.log.warn({ reason: this.current.reason }, 'store unreachable; routing on the last known state');
    notify(this.healthListeners, this.current, this.log);
  }

  private deliver(message: string): void {
    let change: StoreChange;
    try {
      const raw = JSON.parse(message) as StoreChange;
      // A newer Switchyard's document is refused here too; the periodic re-read reports it.
      change = raw.type === 'state' ? { type: 'state', state: parseStoredState(JSON.stringify(raw.state)) } : raw;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'ignoring a change message this replica cannot read');
      return;
    }
    notify(this.changeListeners, change, this.log);
  }
}

/** Listeners run inside ioredis event handlers, where a throw would escape into the connection. */
function notify<T>(listeners: ReadonlySet<(value: T) => void>, value: T, log: Logger): void {
  for (const listener of listeners) {
    try {
      listener(value);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'store listener failed');
    }
  }
}

function unavailable(why: string): SwitchyardError {
  return new SwitchyardError('SY_ERR_STORE_UNAVAILABLE', `store unreachable: ${why}`);
}

function unexpected(script: string, result: ScriptOutcome): Error {
  return new Error(`script ${script} answered ${result.kind}, which it never should`);
}

async function disconnect(client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
  else client.disconnect();
}

/**
 * What an ioredis error says, with the node's own answer when a Cluster reports
 * only that it could not refresh its slots (a wrong password reads NOAUTH there).
 */
function errorText(err: Error): string {
  const node = (err as { lastNodeError?: unknown }).lastNodeError;
  return node instanceof Error ? `${err.message} Last error: ${node.message}` : err.message;
}
