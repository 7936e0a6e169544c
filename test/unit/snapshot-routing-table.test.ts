import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ServiceCatalog } from '../../src/app/catalog.js';
import { RolloutCommands } from '../../src/app/commands.js';
import type { Logger } from '../../src/app/logger.js';
import { RoutingTable, type RoutingSource } from '../../src/app/routing-table.js';
import { SerialRuns } from '../../src/app/serial-runs.js';
import { snapshotEntry, type RoutingSnapshot } from '../../src/app/snapshot.js';
import type { StoreChange, StoreHealth } from '../../src/app/store.js';
import { parseConfig } from '../../src/config/load.js';
import type { NewAuditEntry } from '../../src/core/audit.js';
import { SwitchyardError } from '../../src/core/errors.js';
import type { Override } from '../../src/core/override.js';
import type { RolloutState } from '../../src/core/rollout-state.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';

const T0 = 1_700_000_000_000;
const SERVICE = 'fraud-scorer';
const HOUR = 3_600_000;

const config = parseConfig(
  `
store: { redis: { url: "redis://127.0.0.1:1" } }
services:
  ${SERVICE}:
    match: { pathPrefix: /fraud }
    versions:
      v1: { targets: ["http://127.0.0.1:9001"] }
      v2: { targets: ["http://127.0.0.1:9002"] }
    rollout: { stable: v1, steps: [ { weight: 10, bake: 1m } ] }
`,
  {},
);

/** A memory store that can be unreachable (every call fails, health says so) and whose reads can be held back. */
class FlakyStore extends MemoryStore {
  private down = false;
  private readonly changeListeners = new Set<(change: StoreChange) => void>();
  /** While set, getState reads the store at once and answers only after this resolves: a read in flight. */
  hold: Promise<void> | null = null;

  /** The table re-reads on its own when a real store reports its return; tests call refresh() instead. */
  setDown(down: boolean): void {
    this.down = down;
  }

  /** A change message as another replica's write would send it. */
  announce(change: StoreChange): void {
    for (const listener of this.changeListeners) listener(change);
  }

  override health(): StoreHealth {
    return this.down ? { up: false, reason: 'connect ECONNREFUSED 127.0.0.1:1' } : { up: true, reason: null };
  }

  override subscribe(listener: (change: StoreChange) => void): () => void {
    this.changeListeners.add(listener);
    const off = super.subscribe(listener);
    return () => {
      this.changeListeners.delete(listener);
      off();
    };
  }

  override async getState(service: string): Promise<RolloutState | null> {
    this.check();
    const state = await super.getState(service);
    if (this.hold !== null) await this.hold;
    return state;
  }

  override async listOverrides(service: string, now: number): Promise<Override[]> {
    this.check();
    return super.listOverrides(service, now);
  }

  override async initState(state: RolloutState, audit: NewAuditEntry): Promise<RolloutState> {
    this.check();
    return super.initState(state, audit);
  }

  override async restoreOverride(override: Override, audit: NewAuditEntry): Promise<Override> {
    this.check();
    return super.restoreOverride(override, audit);
  }

  private check(): void {
    if (this.down) throw new SwitchyardError('SY_ERR_STORE_UNAVAILABLE', 'store unreachable: connect ECONNREFUSED 127.0.0.1:1');
  }
}

function recordingLog(): Logger & { lines: Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  const at = (level: string) => (_obj: object, msg: string) => void lines.push({ level, msg });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

const clock = { now: () => T0 };
const catalog = new ServiceCatalog(config.services);
const configState = (): RolloutState => new RolloutCommands(new MemoryStore(), catalog, clock).initialStates()[0] as RolloutState;

function rollout(revision: number, weightBp: number): RolloutState {
  return { ...configState(), revision, candidate: 'v2', weightBp, phase: 'progressing' };
}

function pin(key: string, version: string, expiresAt = T0 + HOUR): Override {
  return { service: SERVICE, key, version, reason: `pinned ${key}`, author: 'ops', createdAt: T0 - 1_000, expiresAt };
}

function snapshotOf(state: RolloutState, pins: Override[]): RoutingSnapshot {
  return { format: 1, writtenAt: T0 - 60_000, services: [snapshotEntry(state, pins)] };
}

const audit = (state: RolloutState, actor = 'test'): NewAuditEntry => ({ service: SERVICE, actor, action: 'init', reason: null, at: T0, before: null, after: state });

describe('the routing table and the store', () => {
  let store: FlakyStore;
  let tables: RoutingTable[];
  let sources: Array<[number, RoutingSource]>;

  /** A replica's table, remembering the sources it announced. */
  function table(log: Logger = recordingLog()): RoutingTable {
    const made = new RoutingTable(store, catalog, clock, log);
    const index = tables.length;
    made.onUpdate((_service, _view, source) => sources.push([index, source]));
    tables.push(made);
    return made;
  }

  const pinsOf = (t: RoutingTable) => Object.fromEntries([...(t.view(SERVICE)?.overrides.values() ?? [])].map((o) => [o.key, o.version]));
  const auditLog = () => store.readAudit({ services: [SERVICE], limit: 100 });

  beforeEach(() => {
    store = new FlakyStore();
    tables = [];
    sources = [];
  });
  afterEach(() => {
    for (const t of tables) t.stop();
  });

  it('a re-read that finds the same revision and pins tells no listener; a changed pin does', async () => {
    await store.initState(rollout(5, 1000), audit(rollout(5, 1000)));
    await store.putOverride(pin('alice', 'v2'), { service: SERVICE, actor: 'ops', action: 'override-put', reason: null, at: T0, before: null, after: pin('alice', 'v2') });
    const routing = table();
    await routing.start([configState()], HOUR);
    await routing.refresh();
    const heard = sources.length;
    await routing.refresh();
    await routing.refresh();
    expect(sources.length).toBe(heard);
    await store.putOverride(pin('alice', 'v1'), { service: SERVICE, actor: 'ops', action: 'override-put', reason: null, at: T0, before: null, after: pin('alice', 'v1') });
    await routing.refresh();
    expect(sources.length).toBe(heard + 1);
    expect(pinsOf(routing)).toEqual({ alice: 'v1' });
  });

  describe('only moves forward in revision', () => {
    it('never lets a re-read that started before a change message, nor a late message, put an older revision back', async () => {
      await store.initState(configState(), audit(configState()));
      const routing = table();
      await routing.start([configState()], HOUR);
      await store.compareAndSet(1, rollout(2, 1000), audit(rollout(2, 1000)));
      let release!: () => void;
      store.hold = new Promise((resolve) => (release = resolve));
      const reading = routing.refresh();
      await new Promise((resolve) => setImmediate(resolve));
      await store.compareAndSet(2, rollout(3, 5000), audit(rollout(3, 5000)));
      expect(routing.view(SERVICE)?.state.revision).toBe(3);
      store.hold = null;
      release();
      await reading;
      expect(routing.view(SERVICE)?.state).toMatchObject({ revision: 3, weightBp: 5000 });
      // The late read wrote nothing: the store was never behind.
      expect(await auditLog()).toHaveLength(3);
      // Nor does a late change message move it back.
      store.announce({ type: 'state', state: rollout(2, 1000) });
      expect(routing.view(SERVICE)?.state).toMatchObject({ revision: 3, weightBp: 5000 });
    });

    it('writes back what it knew over a store that went back in revision (a failover that lost writes)', async () => {
      await store.initState(configState(), audit(configState()));
      const routing = table();
      await routing.start([configState()], HOUR);
      await store.compareAndSet(1, rollout(5, 5000), audit(rollout(5, 5000)));
      await store.compareAndSet(5, rollout(3, 1000), audit(rollout(3, 1000)));
      await routing.refresh();
      expect(routing.view(SERVICE)?.state).toMatchObject({ revision: 5, weightBp: 5000 });
      expect(await store.getState(SERVICE)).toMatchObject({ revision: 5, weightBp: 5000 });
      expect((await auditLog())[0]).toMatchObject({ actor: 'resync', before: { revision: 3 }, after: { revision: 5 } });
    });
  });

  describe('starting while the store is unreachable', () => {
    it('routes on the snapshot (live pins only), says so once in the log and in readiness, and never fails', async () => {
      store.setDown(true);
      const log = recordingLog();
      const routing = table(log);
      await routing.start([configState()], HOUR, snapshotOf(rollout(17, 3000), [pin('alice', 'v2'), pin('gone', 'v2', T0 - 1)]));
      expect(routing.view(SERVICE)?.state).toMatchObject({ revision: 17, weightBp: 3000 });
      expect(pinsOf(routing)).toEqual({ alice: 'v2' });
      expect(sources).toEqual([[0, 'snapshot']]);
      expect(log.lines).toHaveLength(1);
      expect(log.lines[0]?.msg).toContain(`service ${SERVICE} on the local snapshot written ${new Date(T0 - 60_000).toISOString()}`);
      // Ready on what it last applied (fail-static), with the reason in the warnings.
      const { problems, warnings } = routing.health();
      expect(problems).toEqual([]);
      expect(warnings.join('\n')).toContain(`routing service ${SERVICE} on the local snapshot written ${new Date(T0 - 60_000).toISOString()}`);
      expect(warnings[0]).toMatch(/^store unreachable /);
    });

    it('routes on the config without a snapshot, marked stale', async () => {
      store.setDown(true);
      const routing = table();
      await routing.start([configState()], HOUR);
      expect(routing.view(SERVICE)?.state).toEqual(configState());
      expect(sources).toEqual([[0, 'config']]);
      // Not ready: the config's initial rollout may be a state the fleet left long ago.
      expect(routing.health().problems.join('\n')).toContain(`routing service ${SERVICE} on the config's initial rollout, possibly stale`);
    });

    it("joins the store when it returns: the store's newer state and its pins win", async () => {
      await store.initState(rollout(20, 9000), audit(rollout(20, 9000)));
      await store.putOverride(pin('bob', 'v1'), { ...audit(rollout(20, 9000)), action: 'override-put', after: pin('bob', 'v1') });
      store.setDown(true);
      const routing = table();
      await routing.start([configState()], HOUR, snapshotOf(rollout(17, 3000), [pin('alice', 'v2')]));
      store.setDown(false);
      await routing.refresh();
      expect(routing.view(SERVICE)?.state).toMatchObject({ revision: 20, weightBp: 9000 });
      // The store had the service: its pins win, deletions made while this replica was away included.
      expect(pinsOf(routing)).toEqual({ bob: 'v1' });
      expect(sources.at(-1)).toEqual([0, 'store']);
      expect(routing.health()).toEqual({ storeUp: true, problems: [], warnings: [] });
      expect(await store.getState(SERVICE)).toMatchObject({ revision: 20 });
    });

    it('never writes the config over a state the store has, even at the same revision', async () => {
      const live = { ...configState(), stable: 'v2' };
      await store.initState(live, audit(live));
      store.setDown(true);
      const routing = table();
      await routing.start([configState()], HOUR);
      store.setDown(false);
      await routing.refresh();
      expect(routing.view(SERVICE)?.state.stable).toBe('v2');
      expect(await store.getState(SERVICE)).toEqual(live);
    });

    it('seeds the config into a store that returns empty, as a start with the store would', async () => {
      store.setDown(true);
      const routing = table();
      await routing.start([configState()], HOUR);
      store.setDown(false);
      await routing.refresh();
      expect(await store.getState(SERVICE)).toEqual(configState());
      expect(await auditLog()).toMatchObject([{ actor: 'config', action: 'init', reason: 'initial rollout from the config file' }]);
      expect(sources.at(-1)).toEqual([0, 'store']);
    });
  });

  describe('a store that returns empty', () => {
    it('gets back the state and the pins with their reasons, authors and expiry; pinned users keep their version', async () => {
      store.setDown(true);
      const routing = table();
      const pins = [pin('alice', 'v2'), pin('bob', 'v1', T0 + 2 * HOUR)];
      await routing.start([configState()], HOUR, snapshotOf(rollout(17, 3000), pins));
      store.setDown(false);
      await routing.refresh();
      expect(await store.getState(SERVICE)).toEqual(rollout(17, 3000));
      expect((await store.listOverrides(SERVICE, T0)).sort((a, b) => a.key.localeCompare(b.key))).toEqual(pins);
      expect(pinsOf(routing)).toEqual({ alice: 'v2', bob: 'v1' });
      // Newest first: the state last, so a replica that finds it back finds the pins too.
      expect((await auditLog()).map((e) => [e.actor, e.action])).toEqual([
        ['resync', 'init'],
        ['resync', 'override-put'],
        ['resync', 'override-put'],
      ]);
    });

    it('keeps the first pin written back for a key, adds the pins only a later replica knew, and all replicas agree', async () => {
      const [a, b] = [table(), table()];
      let release!: () => void;
      store.hold = new Promise((resolve) => (release = resolve));
      // Both read the empty store before either writes back, as replicas reconnecting together do.
      const starts = [
        a.start([configState()], HOUR, snapshotOf(rollout(17, 3000), [pin('alice', 'v2')])),
        b.start([configState()], HOUR, snapshotOf(rollout(17, 3000), [pin('alice', 'v1'), pin('bob', 'v2')])),
      ];
      await new Promise((resolve) => setImmediate(resolve));
      store.hold = null;
      release();
      await Promise.all(starts);
      await Promise.all([a.refresh(), b.refresh()]);
      const stored = Object.fromEntries((await store.listOverrides(SERVICE, T0)).map((o) => [o.key, o.version]));
      expect(Object.keys(stored).sort()).toEqual(['alice', 'bob']);
      expect(pinsOf(a)).toEqual(stored);
      expect(pinsOf(b)).toEqual(stored);
      expect((await auditLog()).filter((e) => e.action === 'init')).toHaveLength(1);
    });

    it('ends on the highest revision any replica knew, with its pins too, when a replica that knew less wrote back first', async () => {
      const [stale, current] = [table(), table()];
      await stale.start([configState()], HOUR, snapshotOf(rollout(10, 1000), [pin('old', 'v2')]));
      expect(await store.getState(SERVICE)).toMatchObject({ revision: 10 });
      await current.start([configState()], HOUR, snapshotOf(rollout(17, 3000), [pin('alice', 'v2')]));
      await Promise.all([stale.refresh(), current.refresh()]);
      expect(await store.getState(SERVICE)).toMatchObject({ revision: 17, weightBp: 3000 });
      expect(stale.view(SERVICE)?.state).toEqual(current.view(SERVICE)?.state);
      expect(pinsOf(stale)).toEqual({ old: 'v2', alice: 'v2' });
      expect(pinsOf(current)).toEqual({ old: 'v2', alice: 'v2' });
    });
  });
});

describe('re-reads of one service', () => {
  it('never overlap, and a burst made during one shares a single read queued after it', async () => {
    const runs = new SerialRuns();
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let n = 0;
    const read = () => {
      const i = ++n;
      events.push(`start ${i}`);
      return (i === 1 ? gate : Promise.resolve()).then(() => void events.push(`end ${i}`));
    };
    const first = runs.run('svc', read);
    const burst = [runs.run('svc', read), runs.run('svc', read), runs.run('svc', read)];
    const other = runs.run('other', async () => void events.push('other service'));
    await other;
    expect(events).toEqual(['start 1', 'other service']);
    release();
    await Promise.all([first, ...burst]);
    expect(events).toEqual(['start 1', 'other service', 'end 1', 'start 2', 'end 2']);
  });
});
