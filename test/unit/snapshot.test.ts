import { describe, expect, it } from 'vitest';
import {
  decodeSnapshot,
  encodeSnapshot,
  SNAPSHOT_FORMAT,
  snapshotEntry,
  snapshotFileName,
  sortEntries,
  type SnapshotEntry,
} from '../../src/app/snapshot.js';
import type { RedisConfig } from '../../src/config/schema.js';
import type { Override } from '../../src/core/override.js';
import { initialState, STATE_SCHEMA_VERSION, type RolloutState } from '../../src/core/rollout-state.js';

const T0 = 1_700_000_000_000;

function state(service: string, patch: Partial<RolloutState> = {}): RolloutState {
  return { ...initialState({ service, stable: 'v1', strategy: 'canary', steps: [], now: T0 }), ...patch };
}

function pin(service: string, key: string): Override {
  return { service, key, version: 'v2', reason: 'customer asked', author: 'ops', createdAt: T0, expiresAt: T0 + 60_000 };
}

const entries: SnapshotEntry[] = [
  snapshotEntry(state('ranker', { revision: 4 }), []),
  snapshotEntry(state('fraud-scorer', { revision: 17, candidate: 'v2', weightBp: 3000, phase: 'progressing' }), [pin('fraud-scorer', 'zoe'), pin('fraud-scorer', 'alice')]),
];

describe('the routing snapshot format', () => {
  it('reads back what it wrote, services by name and pins by key', () => {
    const decoded = decodeSnapshot(encodeSnapshot(sortEntries(entries), T0 + 5));
    expect(decoded).toEqual({
      ok: true,
      snapshot: { format: SNAPSHOT_FORMAT, writtenAt: T0 + 5, services: [entries[1], entries[0]] },
    });
    if (decoded.ok) expect(decoded.snapshot.services[0]?.overrides.map((o) => o.key)).toEqual(['alice', 'zoe']);
  });

  it('encodes the same table to the same text whatever order it was built in', () => {
    const reversed = [...entries].reverse().map((e) => snapshotEntry(e.state, [...e.overrides].reverse()));
    expect(encodeSnapshot(sortEntries(reversed), T0)).toBe(encodeSnapshot(sortEntries(entries), T0));
  });

  it('refuses a file of a newer format, saying so', () => {
    const newer = JSON.stringify({ ...JSON.parse(encodeSnapshot(entries, T0)), format: SNAPSHOT_FORMAT + 1 });
    expect(decodeSnapshot(newer)).toEqual({ ok: false, reason: `format ${SNAPSHOT_FORMAT + 1} is newer than format ${SNAPSHOT_FORMAT}, the newest this replica reads` });
  });

  it('refuses a state of a newer schema inside a file it can read', () => {
    const text = encodeSnapshot([snapshotEntry(state('fraud-scorer', { schemaVersion: STATE_SCHEMA_VERSION + 1 }), [])], T0);
    const decoded = decodeSnapshot(text);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toContain(`schema version ${STATE_SCHEMA_VERSION + 1}`);
  });

  it.each([
    ['a truncated file', encodeSnapshot(entries, T0).slice(0, 200), /^not JSON/],
    ['an empty file', '', /^not JSON/],
    ['another JSON document', '[1, 2, 3]', /^no format version$/],
    ['no format', JSON.stringify({ writtenAt: T0, services: [] }), /^no format version$/],
    ['services that are not a list', JSON.stringify({ format: 1, writtenAt: T0, services: {} }), /^no writtenAt or services$/],
    ['a state without its fields', JSON.stringify({ format: 1, writtenAt: T0, services: [{ state: { schemaVersion: 1 }, overrides: [] }] }), /^services\[0\]: a rollout state without/],
    ['a state without a schema version', JSON.stringify({ format: 1, writtenAt: T0, services: [{ state: { service: 'x' }, overrides: [] }] }), /^services\[0\]: a rollout state without a schema version$/],
    ["another service's pin", encodeSnapshot([snapshotEntry(state('ranker'), [pin('fraud-scorer', 'alice')])], T0), /^services\[0\]: an override that is not a pin of service ranker$/],
  ])('refuses %s with the reason', (_, text, reason) => {
    const decoded = decodeSnapshot(text);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.reason).toMatch(reason);
  });
});

describe('the snapshot file name', () => {
  const url = (u: string, keyPrefix = 'sy'): RedisConfig => ({ url: u, keyPrefix });

  it('differs between deployments: Redis address, database or key prefix', () => {
    const names = [
      snapshotFileName(url('redis://10.0.0.1:6379')),
      snapshotFileName(url('redis://10.0.0.2:6379')),
      snapshotFileName(url('redis://10.0.0.1:6380')),
      snapshotFileName(url('redis://10.0.0.1:6379/2')),
      snapshotFileName(url('redis://10.0.0.1:6379', 'other')),
      snapshotFileName({ cluster: [{ host: '10.0.0.1', port: 6379 }], keyPrefix: 'sy' }),
      snapshotFileName({ sentinels: [{ host: '10.0.0.1', port: 26379 }], name: 'a', keyPrefix: 'sy' }),
      snapshotFileName({ sentinels: [{ host: '10.0.0.1', port: 26379 }], name: 'b', keyPrefix: 'sy' }),
    ];
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^routing-[0-9a-f]{16}\.json$/);
  });

  it('is the same for the same deployment written differently: credentials, default port and database, node order', () => {
    expect(snapshotFileName(url('redis://:secret@10.0.0.1:6379/0'))).toBe(snapshotFileName(url('rediss://10.0.0.1')));
    const nodes = [{ host: 'a', port: 1 }, { host: 'b', port: 2 }];
    expect(snapshotFileName({ cluster: nodes, keyPrefix: 'sy' })).toBe(snapshotFileName({ cluster: [...nodes].reverse(), keyPrefix: 'sy' }));
    expect(snapshotFileName({ sentinels: nodes, name: 'm', keyPrefix: 'sy' })).toBe(snapshotFileName({ sentinels: [...nodes].reverse(), name: 'm', keyPrefix: 'sy' }));
  });
});
