import { createHash } from 'node:crypto';
import type { RedisConfig } from '../config/schema.js';
import type { Override } from '../core/override.js';
import { parseStoredState, type RolloutState } from '../core/rollout-state.js';

/**
 * The last-known-good copy of the routing table that a replica keeps on disk, so
 * that one starting while the store is unreachable routes on what it last knew.
 * This module is the file's format; the file I/O is in src/store/snapshot.
 */

/** Raised when the layout changes: a replica ignores a file of a newer format rather than misread it. */
export const SNAPSHOT_FORMAT = 1;

export interface SnapshotEntry {
  readonly state: RolloutState;
  /** By user key; expired pins may be in it (they are dropped when read back). */
  readonly overrides: readonly Override[];
}

export interface RoutingSnapshot {
  readonly format: number;
  /** When the replica wrote it (ms): how stale a start from it may be. */
  readonly writtenAt: number;
  /** By service name. */
  readonly services: readonly SnapshotEntry[];
}

/** Where a replica keeps its snapshot. */
export interface SnapshotFile {
  /** For log lines. */
  readonly path: string;
  /** The file's text, or null when there is no file. */
  read(): Promise<string | null>;
  /** Replaces the text all at once: a reader (or a crash) sees the old text or the new, never a mix. */
  write(text: string): Promise<void>;
}

export type DecodedSnapshot = { readonly ok: true; readonly snapshot: RoutingSnapshot } | { readonly ok: false; readonly reason: string };

/** A service's view as the snapshot keeps it, in a stable order so equal tables encode equally. */
export function snapshotEntry(state: RolloutState, overrides: Iterable<Override>): SnapshotEntry {
  return { state, overrides: [...overrides].sort((a, b) => compare(a.key, b.key)) };
}

/** The services sorted by name, so the same table always encodes to the same text. */
export function sortEntries(entries: Iterable<SnapshotEntry>): SnapshotEntry[] {
  return [...entries].sort((a, b) => compare(a.state.service, b.state.service));
}

export function encodeSnapshot(services: readonly SnapshotEntry[], writtenAt: number): string {
  const snapshot: RoutingSnapshot = { format: SNAPSHOT_FORMAT, writtenAt, services };
  return JSON.stringify(snapshot);
}

/** Reads a snapshot's text; anything but a whole file of a format this replica knows is refused with the reason. */
export function decodeSnapshot(text: string): DecodedSnapshot {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return refuse(`not JSON (${(err as Error).message})`);
  }
  if (!isRecord(doc) || !Number.isInteger(doc['format']) || (doc['format'] as number) < 1) return refuse('no format version');
  const format = doc['format'] as number;
  if (format > SNAPSHOT_FORMAT) return refuse(`format ${format} is newer than format ${SNAPSHOT_FORMAT}, the newest this replica reads`);
  const { writtenAt, services } = doc;
  if (typeof writtenAt !== 'number' || !Array.isArray(services)) return refuse('no writtenAt or services');
  const entries: SnapshotEntry[] = [];
  for (const [i, raw] of services.entries()) {
    const entry = decodeEntry(raw);
    if (typeof entry === 'string') return refuse(`services[${i}]: ${entry}`);
    entries.push(entry);
  }
  return { ok: true, snapshot: { format, writtenAt, services: entries } };
}

/**
 * The file name of a deployment's snapshot: a hash of the Redis address(es) and key
 * prefix, so gateways of different deployments on one host never share a file.
 * Credentials are left out, so rotating a password keeps the snapshot.
 */
export function snapshotFileName(redis: RedisConfig): string {
  const identity = JSON.stringify({ redis: redisAddresses(redis), keyPrefix: redis.keyPrefix });
  return `routing-${createHash('sha256').update(identity).digest('hex').slice(0, 16)}.json`;
}

function redisAddresses(redis: RedisConfig): string[] {
  if (redis.url !== undefined) {
    const url = new URL(redis.url);
    const db = url.pathname.replace(/^\//, '') || '0';
    return [`${url.hostname}:${url.port || '6379'}/${db}`];
  }
  const nodes = (redis.sentinels ?? redis.cluster ?? []).map((node) => `${node.host}:${node.port}`).sort();
  return redis.sentinels === undefined ? nodes : [`sentinel group ${redis.name ?? ''}`, ...nodes];
}

function decodeEntry(raw: unknown): SnapshotEntry | string {
  if (!isRecord(raw) || !isRecord(raw['state']) || !Array.isArray(raw['overrides'])) return 'not a {state, overrides} entry';
  if (!Number.isInteger(raw['state']['schemaVersion'])) return 'a rollout state without a schema version';
  let state: RolloutState;
  try {
    state = parseStoredState(JSON.stringify(raw['state']));
  } catch (err) {
    return (err as Error).message;
  }
  if (!isRoutableState(state)) return 'a rollout state without service, revision, stable, weight, phase or salt';
  const overrides = raw['overrides'] as unknown[];
  if (!overrides.every((o) => isOverrideOf(state.service, o))) return `an override that is not a pin of service ${state.service}`;
  return { state, overrides: overrides as Override[] };
}

/** The fields routing reads; a document without them is not a state, whatever its schema version says. */
function isRoutableState(state: RolloutState): boolean {
  return (
    typeof state.service === 'string' &&
    Number.isInteger(state.revision) &&
    typeof state.stable === 'string' &&
    typeof state.weightBp === 'number' &&
    typeof state.phase === 'string' &&
    typeof state.salt === 'string'
  );
}

function isOverrideOf(service: string, o: unknown): boolean {
  if (!isRecord(o) || o['service'] !== service) return false;
  return ['key', 'version', 'reason', 'author'].every((f) => typeof o[f] === 'string') && ['createdAt', 'expiresAt'].every((f) => typeof o[f] === 'number');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function refuse(reason: string): DecodedSnapshot {
  return { ok: false, reason };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
