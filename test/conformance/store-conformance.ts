import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store, StoreChange } from '../../src/app/store.js';
import { compareAuditIds, type AuditEntry, type NewAuditEntry } from '../../src/core/audit.js';
import type { Override } from '../../src/core/override.js';
import { initialState, type RolloutState } from '../../src/core/rollout-state.js';

export interface StoreUnderTest {
  readonly store: Store;
  /** Another replica's view of the same data: a second store on the same Redis prefix, or the same memory store. */
  replica(): Promise<Store>;
  cleanup(): Promise<void>;
}

const T0 = 1_700_000_000_000;

/** Waits for something a real server does in its own time; fails after `timeoutMs` instead of hanging. */
export async function eventually(check: () => boolean, timeoutMs = 3_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function stateOf(service: string, revision = 1, patch: Partial<RolloutState> = {}): RolloutState {
  const base = initialState({ service, stable: 'v1', strategy: 'canary', steps: [{ weightBp: 500, bakeMs: 60_000 }], now: T0 });
  return { ...base, revision, ...patch };
}

export function auditOf(before: RolloutState | null, after: RolloutState, at: number): NewAuditEntry {
  const action = before === null ? 'init' : 'set-weight';
  return { service: after.service, actor: 'test', action, reason: null, at, before, after };
}

function overrideOf(service: string, key: string, patch: Partial<Override> = {}): Override {
  return { service, key, version: 'v2', reason: 'pinned for a test', author: 'test', createdAt: T0, expiresAt: T0 + 60_000, ...patch };
}

function putAudit(override: Override, at: number): NewAuditEntry {
  return { service: override.service, actor: 'test', action: 'override-put', reason: override.reason, at, before: null, after: override };
}

/** The whole Store contract, run against every implementation. */
export function describeStoreConformance(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`${name} store conformance`, () => {
    let subject: StoreUnderTest;
    let store: Store;

    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
    });
    afterEach(() => subject.cleanup());

    const audit = (services: string[], limit = 100, before?: string) => store.readAudit({ services, limit, ...(before === undefined ? {} : { before }) });

    it('is up once made', () => {
      expect(store.health()).toEqual({ up: true, reason: null });
    });

    it('answers null for a service without state', async () => {
      expect(await store.getState('fraud-scorer')).toBeNull();
    });

    it('writes the first state of a service and audits it once', async () => {
      const first = stateOf('fraud-scorer');
      expect(await store.initState(first, auditOf(null, first, T0))).toEqual(first);
      expect(await store.getState('fraud-scorer')).toEqual(first);
      const entries = await audit(['fraud-scorer']);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ service: 'fraud-scorer', action: 'init', at: T0, after: first });
    });

    it('never lets the config overwrite live state', async () => {
      const first = stateOf('fraud-scorer');
      await store.initState(first, auditOf(null, first, T0));
      const live = stateOf('fraud-scorer', 2, { weightBp: 2500 });
      await store.compareAndSet(1, live, auditOf(first, live, T0 + 1));
      const fromConfig = stateOf('fraud-scorer', 1, { stable: 'v0' });
      expect(await store.initState(fromConfig, auditOf(null, fromConfig, T0 + 2))).toEqual(live);
      expect(await store.getState('fraud-scorer')).toEqual(live);
      expect(await audit(['fraud-scorer'])).toHaveLength(2);
    });

    it('writes the next state when the revision matches, with one audit entry carrying the returned id', async () => {
      const first = stateOf('fraud-scorer');
      await store.initState(first, auditOf(null, first, T0));
      const next = stateOf('fraud-scorer', 2, { weightBp: 500, phase: 'progressing', candidate: 'v2' });
      const entry = auditOf(first, next, T0 + 10);
      const result = await store.compareAndSet(1, next, entry);
      expect(result).toEqual({ ok: true, state: next, auditId: expect.any(String) });
      expect(await store.getState('fraud-scorer')).toEqual(next);
      const [newest] = await audit(['fraud-scorer']);
      expect(newest).toEqual({ ...entry, id: result.ok ? result.auditId : '' });
    });

    it('refuses a stale revision and writes nothing, not even audit', async () => {
      const first = stateOf('fraud-scorer');
      await store.initState(first, auditOf(null, first, T0));
      const second = stateOf('fraud-scorer', 2, { weightBp: 1000 });
      await store.compareAndSet(1, second, auditOf(first, second, T0 + 1));
      const auditBefore = await audit(['fraud-scorer']);

      const late = stateOf('fraud-scorer', 2, { weightBp: 9000 });
      expect(await store.compareAndSet(1, late, auditOf(first, late, T0 + 2))).toEqual({ ok: false, current: second });
      expect(await store.getState('fraud-scorer')).toEqual(second);
      expect(await audit(['fraud-scorer'])).toEqual(auditBefore);
    });

    it('refuses to compare-and-set a service that has no state', async () => {
      const next = stateOf('fraud-scorer', 2);
      expect(await store.compareAndSet(1, next, auditOf(null, next, T0))).toEqual({ ok: false, current: null });
      expect(await store.getState('fraud-scorer')).toBeNull();
      expect(await audit(['fraud-scorer'])).toEqual([]);
    });

    it('lets exactly one of 50 concurrent writers on the same revision win', async () => {
      const first = stateOf('fraud-scorer');
      await store.initState(first, auditOf(null, first, T0));
      const attempts = Array.from({ length: 50 }, (_, i) => stateOf('fraud-scorer', 2, { weightBp: 100 + i }));
      const results = await Promise.all(attempts.map((next, i) => store.compareAndSet(1, next, auditOf(first, next, T0 + i))));
      const winners = results.filter((r) => r.ok);
      expect(winners).toHaveLength(1);
      const winner = winners[0]?.ok ? winners[0].state : null;
      expect(await store.getState('fraud-scorer')).toEqual(winner);
      const entries = await audit(['fraud-scorer']);
      expect(entries.map((e) => e.action)).toEqual(['set-weight', 'init']);
      expect(entries[0]?.after).toEqual(winner);
    });

    it('keeps audit ids increasing when the clock steps back', async () => {
      let state = stateOf('fraud-scorer');
      await store.initState(state, auditOf(null, state, T0 + 5_000));
      for (const at of [T0 + 1_000, T0, T0]) {
        const next = stateOf('fraud-scorer', state.revision + 1, { weightBp: state.weightBp + 100 });
        await store.compareAndSet(state.revision, next, auditOf(state, next, at));
        state = next;
      }
      const ids = (await audit(['fraud-scorer'])).map((e) => e.id).reverse();
      expect(ids).toHaveLength(4);
      for (let i = 1; i < ids.length; i++) expect(compareAuditIds(ids[i] ?? '', ids[i - 1] ?? '')).toBeGreaterThan(0);
    });

    describe('reading the audit log', () => {
      /** Writes init plus `changes` weight changes to each service, all at distinct, increasing times. */
      async function history(services: string[], changes: number, timeStep = 1): Promise<void> {
        const states = new Map<string, RolloutState>();
        let at = T0;
        for (const service of services) {
          const first = stateOf(service);
          await store.initState(first, auditOf(null, first, (at += timeStep)));
          states.set(service, first);
        }
        for (let round = 0; round < changes; round++) {
          for (const service of services) {
            const before = states.get(service) ?? stateOf(service);
            const next = stateOf(service, before.revision + 1, { weightBp: before.weightBp + 10 });
            await store.compareAndSet(before.revision, next, auditOf(before, next, (at += timeStep)));
            states.set(service, next);
          }
        }
      }

      async function allPages(services: string[], limit: number): Promise<AuditEntry[][]> {
        const pages: AuditEntry[][] = [];
        for (let before: string | undefined; ; ) {
          const page = await audit(services, limit, before);
          if (page.length === 0) return pages;
          pages.push(page);
          before = page[page.length - 1]?.id;
        }
      }

      it('merges the asked services newest first and leaves the others out', async () => {
        await history(['a', 'b', 'c'], 3);
        const entries = await audit(['a', 'b']);
        expect(entries).toHaveLength(8);
        expect(new Set(entries.map((e) => e.service))).toEqual(new Set(['a', 'b']));
        const times = entries.map((e) => e.at);
        expect(times).toEqual([...times].sort((x, y) => y - x));
      });

      it('pages with limit and an exclusive `before`, visiting every entry once', async () => {
        await history(['a', 'b', 'c'], 3);
        const everything = await audit(['a', 'b', 'c']);
        expect(everything).toHaveLength(12);
        const pages = await allPages(['a', 'b', 'c'], 5);
        expect(pages.map((p) => p.length)).toEqual([5, 5, 2]);
        expect(pages.flat()).toEqual(everything);
        expect(await audit(['a', 'b', 'c'], 100, everything[0]?.id)).toEqual(everything.slice(1));
      });

      it('never skips entries when services write at the same instant', async () => {
        await history(['a', 'b', 'c'], 2, 0);
        const everything = await audit(['a', 'b', 'c']);
        expect(everything).toHaveLength(9);
        for (const limit of [1, 2, 4]) {
          const seen = (await allPages(['a', 'b', 'c'], limit)).flat();
          expect(seen.map((e) => `${e.service}/${e.id}`).sort()).toEqual(everything.map((e) => `${e.service}/${e.id}`).sort());
        }
      });

      it('answers an empty list for services without history', async () => {
        expect(await audit(['nobody'])).toEqual([]);
      });
    });

    describe('overrides', () => {
      const byKey = (list: Override[]) => [...list].sort((x, y) => x.key.localeCompare(y.key));

      it('puts, replaces, lists and deletes pins, auditing each change', async () => {
        const alice = overrideOf('fraud-scorer', 'alice');
        const bob = overrideOf('fraud-scorer', 'bob', { version: 'v1' });
        await store.putOverride(alice, putAudit(alice, T0 + 1));
        await store.putOverride(bob, putAudit(bob, T0 + 2));
        expect(byKey(await store.listOverrides('fraud-scorer', T0 + 3))).toEqual([alice, bob]);

        const alice2 = overrideOf('fraud-scorer', 'alice', { version: 'v3', createdAt: T0 + 4 });
        await store.putOverride(alice2, putAudit(alice2, T0 + 4));
        expect(byKey(await store.listOverrides('fraud-scorer', T0 + 5))).toEqual([alice2, bob]);

        const deleteAudit = (removed: Override): NewAuditEntry => ({
          service: 'fraud-scorer',
          actor: 'test',
          action: 'override-delete',
          reason: null,
          at: T0 + 6,
          before: removed,
          after: null,
        });
        expect(await store.deleteOverride('fraud-scorer', 'alice', deleteAudit, T0 + 6)).toEqual(alice2);
        expect(await store.listOverrides('fraud-scorer', T0 + 7)).toEqual([bob]);
        const entries = await audit(['fraud-scorer']);
        expect(entries.map((e) => e.action)).toEqual(['override-delete', 'override-put', 'override-put', 'override-put']);
        expect(entries[0]?.before).toEqual(alice2);
      });

      it('answers null when deleting a key without a pin, and audits nothing', async () => {
        const audited: Override[] = [];
        const removed = await store.deleteOverride('fraud-scorer', 'nobody', (o) => (audited.push(o), putAudit(o, T0)), T0);
        expect(removed).toBeNull();
        expect(audited).toEqual([]);
        expect(await audit(['fraud-scorer'])).toEqual([]);
      });

      it('leaves expired pins out and removes them for good', async () => {
        const pin = overrideOf('fraud-scorer', 'alice', { expiresAt: T0 + 1_000 });
        const other = overrideOf('other', 'alice', { expiresAt: T0 + 1_000 });
        await store.putOverride(pin, putAudit(pin, T0));
        await store.putOverride(other, putAudit(other, T0));
        expect(await store.listOverrides('fraud-scorer', T0 + 999)).toEqual([pin]);
        expect(await store.listOverrides('fraud-scorer', T0 + 1_000)).toEqual([]);
        // Removed, not merely hidden: an earlier `now` does not bring it back.
        expect(await store.listOverrides('fraud-scorer', T0)).toEqual([]);
        // Expiry is per pin, not per store: the other service's pin is untouched until read at its own time.
        expect(await store.listOverrides('other', T0)).toEqual([other]);
      });

      it('restores a pin only where the key has no live one: the first writer wins, and only a write is audited and announced', async () => {
        const heard: StoreChange[] = [];
        store.subscribe((change) => heard.push(change));
        const other = await subject.replica();
        const restore = (from: Store, pin: Override, at: number) => from.restoreOverride(pin, { ...putAudit(pin, at), actor: 'resync' });

        const alice = overrideOf('fraud-scorer', 'alice');
        expect(await restore(store, alice, T0)).toEqual(alice);
        const late = overrideOf('fraud-scorer', 'alice', { version: 'v1', reason: 'another replica knew this one' });
        expect(await restore(other, late, T0 + 1)).toEqual(alice);

        const expiring = overrideOf('fraud-scorer', 'bob', { expiresAt: T0 + 1_000 });
        await store.putOverride(expiring, putAudit(expiring, T0));
        const renewed = overrideOf('fraud-scorer', 'bob', { version: 'v1', expiresAt: T0 + 90_000 });
        // An expired pin counts as absent.
        expect(await restore(other, renewed, T0 + 2_000)).toEqual(renewed);

        expect(byKey(await store.listOverrides('fraud-scorer', T0 + 2_001))).toEqual([alice, renewed]);
        const entries = await audit(['fraud-scorer']);
        expect(entries.map((e) => [e.action, e.actor, (e.after as Override).key])).toEqual([
          ['override-put', 'resync', 'bob'],
          ['override-put', 'test', 'bob'],
          ['override-put', 'resync', 'alice'],
        ]);
        // A state write is the barrier: changes arrive in order, so every announcement before it has arrived too.
        const barrier = stateOf('fraud-scorer');
        await store.initState(barrier, auditOf(null, barrier, T0 + 3_000));
        await eventually(() => heard.some((c) => c.type === 'state'), 3_000, 'the barrier');
        const pinChange: StoreChange = { type: 'overrides', service: 'fraud-scorer' };
        // The restore that found alice's pin announced nothing.
        expect(heard).toEqual([pinChange, pinChange, pinChange, { type: 'state', state: barrier }]);
      });

      it('answers null when deleting an expired pin, without auditing it', async () => {
        const pin = overrideOf('fraud-scorer', 'alice', { expiresAt: T0 + 1_000 });
        await store.putOverride(pin, putAudit(pin, T0));
        const removed = await store.deleteOverride('fraud-scorer', 'alice', (o) => putAudit(o, T0 + 2_000), T0 + 2_000);
        expect(removed).toBeNull();
        expect((await audit(['fraud-scorer'])).map((e) => e.action)).toEqual(['override-put']);
        expect(await store.listOverrides('fraud-scorer', T0)).toEqual([]);
      });
    });

    it('tells subscribers about state and override changes, their own included, until they unsubscribe', async () => {
      const heard: StoreChange[] = [];
      const laterHeard: StoreChange[] = [];
      const unsubscribe = store.subscribe((change) => heard.push(change));
      store.subscribe((change) => laterHeard.push(change));

      const first = stateOf('fraud-scorer');
      await store.initState(first, auditOf(null, first, T0));
      const next = stateOf('fraud-scorer', 2, { weightBp: 700 });
      await store.compareAndSet(1, next, auditOf(first, next, T0 + 1));
      const pin = overrideOf('fraud-scorer', 'alice');
      await store.putOverride(pin, putAudit(pin, T0 + 2));
      await store.deleteOverride('fraud-scorer', 'alice', (o) => ({ ...putAudit(o, T0 + 3), action: 'override-delete' }), T0 + 3);
      await eventually(() => heard.length >= 4, 3_000, 'four changes');
      expect(heard).toEqual([
        { type: 'state', state: first },
        { type: 'state', state: next },
        { type: 'overrides', service: 'fraud-scorer' },
        { type: 'overrides', service: 'fraud-scorer' },
      ]);

      unsubscribe();
      const third = stateOf('fraud-scorer', 3, { weightBp: 900 });
      await store.compareAndSet(2, third, auditOf(next, third, T0 + 4));
      // The listener still subscribed is the barrier: once it heard the change, the other would have too.
      await eventually(() => laterHeard.length === 5, 3_000, 'the fifth change');
      expect(heard).toHaveLength(4);
    });

    it('refuses state written by a newer Switchyard instead of misreading it', async () => {
      const newer = { ...stateOf('fraud-scorer'), schemaVersion: 99 };
      await store.initState(newer, auditOf(null, newer, T0));
      await expect(store.getState('fraud-scorer')).rejects.toMatchObject({ code: 'SY_ERR_SCHEMA_TOO_NEW' });
      const mine = stateOf('fraud-scorer', 2);
      await expect(store.compareAndSet(1, mine, auditOf(null, mine, T0 + 1))).rejects.toMatchObject({ code: 'SY_ERR_SCHEMA_TOO_NEW' });
      await expect(store.initState(stateOf('fraud-scorer'), auditOf(null, mine, T0 + 2))).rejects.toMatchObject({
        code: 'SY_ERR_SCHEMA_TOO_NEW',
      });
      expect(await audit(['fraud-scorer'])).toHaveLength(1);
    });
  });
}
