import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../src/app/logger.js';
import type { RoutingSource, ServiceView } from '../../src/app/routing-table.js';
import { loadSnapshot, SnapshotKeeper } from '../../src/app/snapshot-keeper.js';
import { decodeSnapshot, encodeSnapshot, SNAPSHOT_FORMAT, snapshotEntry, snapshotFileName, type SnapshotFile } from '../../src/app/snapshot.js';
import { parseConfig } from '../../src/config/load.js';
import type { Override } from '../../src/core/override.js';
import { initialState, type RolloutState } from '../../src/core/rollout-state.js';
import { LocalSnapshotFile, snapshotFileFor } from '../../src/store/snapshot/snapshot-file.js';

const T0 = 1_700_000_000_000;

function state(service: string, revision: number): RolloutState {
  return { ...initialState({ service, stable: 'v1', strategy: 'canary', steps: [], now: T0 }), revision };
}

function view(service: string, revision: number, pins: string[] = []): ServiceView {
  const overrides = pins.map((key): Override => ({ service, key, version: 'v2', reason: 'pinned', author: 'ops', createdAt: T0, expiresAt: T0 + 60_000 }));
  return { state: state(service, revision), overrides: new Map(overrides.map((o) => [o.key, o])) };
}

function recordingLog(): Logger & { lines: Array<{ level: string; obj: object; msg: string }> } {
  const lines: Array<{ level: string; obj: object; msg: string }> = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, obj, msg });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sy-snapshot-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the snapshot file on disk', () => {
  it('is replaced whole: readers see the old text or the new one, never a part, and no temporary file is left', async () => {
    const file = new LocalSnapshotFile(join(dir, 'routing.json'));
    const texts = ['a', 'b'].map((c) => JSON.stringify({ fill: c.repeat(2_000_000) }));
    await file.write(texts[0] as string);
    const inodes = new Set<number>();
    let writing = true;
    const seen = new Set<string>();
    const reader = (async () => {
      while (writing) seen.add((await file.read()) ?? 'none');
    })();
    for (let i = 1; i <= 10; i++) {
      await file.write(texts[i % 2] as string);
      inodes.add(statSync(file.path).ino);
    }
    writing = false;
    await reader;
    // Lengths, not the 2 MB texts, in a failure message.
    expect([...seen].filter((text) => !texts.includes(text)).map((text) => text.length)).toEqual([]);
    // A new file each time, renamed over the old one, rather than the old one rewritten in place.
    expect(inodes.size).toBeGreaterThan(1);
    expect(readdirSync(dir)).toEqual(['routing.json']);
  });

  it('creates its directory, and both are for the owner only: overrides name users', async () => {
    const file = new LocalSnapshotFile(join(dir, 'nested', 'routing.json'));
    await file.write('{}');
    expect(statSync(join(dir, 'nested')).mode & 0o777).toBe(0o700);
    expect(statSync(file.path).mode & 0o777).toBe(0o600);
  });

  it('answers null when there is no file yet', async () => {
    expect(await new LocalSnapshotFile(join(dir, 'routing.json')).read()).toBeNull();
  });

  it('is kept only with Redis and while enabled, in the configured directory, named after the deployment', () => {
    const services = 'services: { s: { match: { pathPrefix: /s }, versions: { v1: { targets: ["http://127.0.0.1:1"] } }, rollout: { stable: v1 } } }';
    const redis = 'store: { redis: { url: "redis://127.0.0.1:6379", keyPrefix: "p" } }';
    expect(snapshotFileFor(parseConfig(services, {}))).toBeNull();
    expect(snapshotFileFor(parseConfig(`${redis}\nsnapshot: { enabled: false }\n${services}`, {}))).toBeNull();
    const file = snapshotFileFor(parseConfig(`${redis}\nsnapshot: { dir: ${dir} }\n${services}`, {}));
    expect(file?.path).toBe(join(dir, snapshotFileName({ url: 'redis://127.0.0.1:6379', keyPrefix: 'p' })));
  });
});

describe('reading the snapshot at start', () => {
  const path = () => join(dir, 'routing.json');

  it('answers the snapshot written', async () => {
    const text = encodeSnapshot([snapshotEntry(state('s', 3), [])], T0);
    writeFileSync(path(), text);
    const log = recordingLog();
    expect(await loadSnapshot(new LocalSnapshotFile(path()), log)).toEqual((decodeSnapshot(text) as { snapshot: unknown }).snapshot);
    expect(log.lines).toEqual([]);
  });

  it('answers null without a word when there is none', async () => {
    const log = recordingLog();
    expect(await loadSnapshot(new LocalSnapshotFile(path()), log)).toBeNull();
    expect(log.lines).toEqual([]);
  });

  it.each([
    ['corrupt', () => writeFileSync(path(), '{"format":1,"writtenAt":17000'), 'not JSON'],
    ['of a newer format', () => writeFileSync(path(), JSON.stringify({ format: SNAPSHOT_FORMAT + 1, writtenAt: T0, services: [] })), 'newer than format'],
    ['unreadable', () => mkdirSync(path()), 'EISDIR'],
  ])('ignores one that is %s, with one log line saying why', async (_, make, why) => {
    make();
    const log = recordingLog();
    expect(await loadSnapshot(new LocalSnapshotFile(path()), log)).toBeNull();
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]?.level).toBe('warn');
    expect(JSON.stringify(log.lines[0])).toContain(why);
    expect(JSON.stringify(log.lines[0])).toContain(path());
  });
});

/** Remembers every text written; fails while `failing` says why. */
class FakeFile implements SnapshotFile {
  readonly path = '/snapshots/routing.json';
  readonly writes: string[] = [];
  failing: string | null = null;

  async read(): Promise<string | null> {
    return this.writes.at(-1) ?? null;
  }

  async write(text: string): Promise<void> {
    if (this.failing !== null) throw new Error(this.failing);
    this.writes.push(text);
  }

  revisions(i: number): Record<string, number> {
    const decoded = decodeSnapshot(this.writes[i] ?? '');
    if (!decoded.ok) throw new Error(decoded.reason);
    return Object.fromEntries(decoded.snapshot.services.map((e) => [e.state.service, e.state.revision]));
  }
}

describe('keeping the snapshot in step with the routing table', () => {
  let file: FakeFile;
  let log: ReturnType<typeof recordingLog>;
  let keeper: SnapshotKeeper;
  const update = (service: string, revision: number, source: RoutingSource = 'store', pins: string[] = []) => keeper.onUpdate(service, view(service, revision, pins), source);

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    file = new FakeFile();
    log = recordingLog();
    keeper = new SnapshotKeeper({ file, clock: { now: () => Date.now() }, log, intervalMs: 1_000 });
  });
  afterEach(() => vi.useRealTimers());

  it('writes a burst of changes once, after the caller returned, with the last of each', async () => {
    for (let revision = 1; revision <= 50; revision++) update('a', revision);
    update('b', 7);
    expect(file.writes).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(file.writes).toHaveLength(1);
    expect(file.revisions(0)).toEqual({ a: 50, b: 7 });
  });

  it('writes at most once per interval', async () => {
    update('a', 1);
    await vi.advanceTimersByTimeAsync(0);
    update('a', 2);
    update('a', 3);
    await vi.advanceTimersByTimeAsync(999);
    expect(file.writes).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(file.writes).toHaveLength(2);
    expect(file.revisions(1)).toEqual({ a: 3 });
  });

  it('is not written for views from the snapshot or the config; snapshot views go into the next write, config views never', async () => {
    update('from-snapshot', 4, 'snapshot');
    update('from-config', 1, 'config');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(file.writes).toHaveLength(0);
    update('from-store', 9);
    await vi.advanceTimersByTimeAsync(0);
    expect(file.revisions(0)).toEqual({ 'from-snapshot': 4, 'from-store': 9 });
  });

  it('does not rewrite an unchanged table (the periodic re-read sets every view again)', async () => {
    update('a', 1, 'store', ['alice']);
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 5; i++) {
      update('a', 1, 'store', ['alice']);
      await vi.advanceTimersByTimeAsync(5_000);
    }
    expect(file.writes).toHaveLength(1);
    update('a', 1, 'store', ['alice', 'bob']);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(file.writes).toHaveLength(2);
  });

  it('writes what is still due when closed', async () => {
    update('a', 1);
    await vi.advanceTimersByTimeAsync(0);
    update('a', 2);
    await keeper.close();
    expect(file.writes).toHaveLength(2);
    expect(file.revisions(1)).toEqual({ a: 2 });
  });

  it('logs a failing write once per cause and writes again on the next change', async () => {
    file.failing = 'EACCES: permission denied';
    for (let revision = 1; revision <= 3; revision++) {
      update('a', revision);
      await vi.advanceTimersByTimeAsync(1_000);
    }
    expect(log.lines.map((l) => l.msg)).toEqual(["cannot write the routing snapshot; the previous one stays"]);
    file.failing = null;
    update('a', 4);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(file.revisions(0)).toEqual({ a: 4 });
    expect(log.lines.map((l) => l.msg).at(-1)).toBe('routing snapshot written again');
  });
});
