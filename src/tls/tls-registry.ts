import { unwatchFile, watchFile } from 'node:fs';
import type { Logger } from '../app/logger.js';
import type { Config } from '../config/schema.js';
import { SwitchyardError } from '../core/errors.js';
import { NO_TLS, targetKey, type ClientMaterial, type LoadedCert, type ServerMaterial, type TlsBundle } from './material.js';
import { readClientMaterial, readServerMaterial, type ReadResult } from './read-pem.js';
import { allTargetTlsSettings } from './target-settings.js';

/** Where a TLS bundle comes from: the registry in one process or a cluster's primary; a worker's mirror of it. */
export interface TlsFeed {
  current(): TlsBundle;
  /** Called with the whole new bundle after any part of it changed; returns the unsubscribe. */
  onChange(listener: (bundle: TlsBundle) => void): () => void;
}

/** One TLS set-up of the config: a listener, or one version's connections to its targets. */
interface TlsUse {
  /** `proxy`, `admin` or `service/version`. */
  readonly slot: string;
  readonly field: string;
  readonly files: readonly string[];
  read(nowMs: number): ReadResult<ServerMaterial | ClientMaterial>;
}

function usesOf(config: Config): TlsUse[] {
  const uses: TlsUse[] = [];
  for (const slot of ['proxy', 'admin'] as const) {
    const tls = config[slot].tls;
    if (tls === undefined) continue;
    const field = `${slot}.tls`;
    uses.push({ slot, field, files: [tls.cert, tls.key, ...(tls.ca === undefined ? [] : [tls.ca])], read: (nowMs) => readServerMaterial(field, tls, nowMs) });
  }
  for (const { service, version, settings } of allTargetTlsSettings(config.services)) {
    const files = [settings.ca, settings.cert, settings.key].flatMap((f) => (f === null ? [] : [f.file]));
    uses.push({ slot: targetKey(service, version), field: settings.field, files, read: (nowMs) => readClientMaterial(settings, nowMs) });
  }
  return uses;
}

/**
 * Every problem with the config's TLS files, one line each (`<field> (<file>):
 * <cause>`), for loading a config: a missing file, a key that does not match
 * its certificate, an expired certificate, a file that holds no certificate.
 */
export function tlsFileProblems(config: Config, nowMs: number): string[] {
  const lines = usesOf(config).flatMap((use) => {
    const result = use.read(nowMs);
    return result.ok ? [] : result.problems;
  });
  // Versions that inherit their service's files would report the same line each.
  return [...new Set(lines)];
}

/** Refuses a config whose TLS files are bad, as a config error listing them under `source` (the config file's name). */
export function assertTlsFiles(config: Config, source: string, nowMs: number): void {
  const problems = tlsFileProblems(config, nowMs);
  if (problems.length > 0) throw new SwitchyardError('SY_ERR_CONFIG', `${source} is invalid:\n  ${problems.join('\n  ')}`, { problems });
}

interface Loaded {
  readonly material: ServerMaterial | ClientMaterial;
  readonly certs: readonly LoadedCert[];
}

/**
 * A change seen on disk is read once no file has changed for a poll interval
 * plus this: each file is polled on its own timer, so a certificate and its key
 * written one after the other can be seen up to an interval apart, and must be
 * read together (and a refused pair logged once, not once per file).
 */
const SETTLE_MS = 300;

/**
 * The TLS material of one gateway: read from the config's PEM files at start,
 * re-read on SIGHUP and when a file changes on disk (cert-manager and Vault
 * rewrite them in place; a Kubernetes Secret swaps a symlink, which the stat
 * polling follows). A set-up whose new files are bad keeps serving the old
 * material, and the refusal is one log line naming the field, the file and
 * the cause.
 */
export class TlsRegistry implements TlsFeed {
  private readonly loaded = new Map<string, Loaded>();
  private readonly listeners = new Set<(bundle: TlsBundle) => void>();
  private readonly watched = new Set<string>();
  private settleTimer: NodeJS.Timeout | undefined;
  private bundleNow: TlsBundle = NO_TLS;

  private constructor(
    private readonly uses: readonly TlsUse[],
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /** Reads every set-up of the config; any problem is a config error listing them all. */
  static open(config: Config, log: Logger, now: () => number = Date.now): TlsRegistry {
    const registry = new TlsRegistry(usesOf(config), log, now);
    const problems: string[] = [];
    for (const use of registry.uses) {
      const result = use.read(now());
      if (result.ok) registry.loaded.set(use.slot, { material: result.material, certs: result.certs });
      else problems.push(...result.problems);
    }
    if (problems.length > 0) {
      const lines = [...new Set(problems)];
      throw new SwitchyardError('SY_ERR_CONFIG', `TLS files are invalid:\n  ${lines.join('\n  ')}`, { problems: lines });
    }
    registry.bundleNow = registry.build();
    for (const use of registry.uses) {
      const material = registry.loaded.get(use.slot)?.material;
      if (material !== undefined && 'verify' in material && !material.verify) {
        log.warn({ field: use.field }, `${use.field}.insecureSkipVerify is true: certificates of ${use.slot}'s https targets are NOT verified; anyone on the network path can read and change its traffic`);
      }
    }
    return registry;
  }

  current(): TlsBundle {
    return this.bundleNow;
  }

  /** Every certificate loaded now, for the expiry metric. */
  certs(): LoadedCert[] {
    return [...this.loaded.values()].flatMap((l) => l.certs);
  }

  onChange(listener: (bundle: TlsBundle) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Reads every set-up again; those whose files changed and are good replace
   * the old material, those that are bad keep it. Returns how many changed.
   */
  reload(why: string): number {
    let changed = 0;
    for (const use of this.uses) {
      const result = use.read(this.now());
      if (!result.ok) {
        this.log.error({ field: use.field, problems: result.problems }, `TLS reload (${why}) refused for ${use.field}, still serving the material loaded before: ${result.problems.join('; ')}`);
        continue;
      }
      const before = this.loaded.get(use.slot);
      if (before !== undefined && JSON.stringify(before.material) === JSON.stringify(result.material)) continue;
      this.loaded.set(use.slot, { material: result.material, certs: result.certs });
      changed++;
      const leaf = result.certs.find((c) => !c.field.endsWith('.ca')) ?? result.certs[0];
      this.log.info({ field: use.field, subject: leaf?.subject, expires: leaf === undefined ? undefined : new Date(leaf.notAfterMs).toISOString() }, `TLS reload (${why}): ${use.field} now serves the new material`);
    }
    if (changed > 0) {
      this.bundleNow = this.build();
      for (const listener of this.listeners) listener(this.bundleNow);
    }
    return changed;
  }

  /** Polls every file's status (a symlink swap is seen too) and reloads once changes settle. */
  watch(intervalMs: number): void {
    for (const file of new Set(this.uses.flatMap((u) => u.files))) {
      this.watched.add(file);
      watchFile(file, { interval: intervalMs, persistent: false }, (now, before) => {
        if (now.mtimeMs === before.mtimeMs && now.ino === before.ino && now.size === before.size) return;
        clearTimeout(this.settleTimer);
        this.settleTimer = setTimeout(() => this.reload('file change'), intervalMs + SETTLE_MS);
      });
    }
    // A file rewritten between open() and now (the gateway was starting) has no change left to be seen.
    if (this.watched.size > 0) this.reload('file change during start');
  }

  close(): void {
    clearTimeout(this.settleTimer);
    for (const file of this.watched) unwatchFile(file);
    this.watched.clear();
    this.listeners.clear();
  }

  private build(): TlsBundle {
    const server = (slot: 'proxy' | 'admin') => (this.loaded.get(slot)?.material ?? null) as ServerMaterial | null;
    const targets: Record<string, ClientMaterial> = {};
    for (const use of this.uses) {
      if (use.slot === 'proxy' || use.slot === 'admin') continue;
      const material = this.loaded.get(use.slot)?.material;
      if (material !== undefined) targets[use.slot] = material as ClientMaterial;
    }
    return { proxy: server('proxy'), admin: server('admin'), targets };
  }
}

/** A bundle handed over whole: a cluster worker's copy of its primary's (set on each `tls` message), or a fixed one. */
export class TlsMirror implements TlsFeed {
  private readonly listeners = new Set<(bundle: TlsBundle) => void>();

  constructor(private bundle: TlsBundle = NO_TLS) {}

  current(): TlsBundle {
    return this.bundle;
  }

  onChange(listener: (bundle: TlsBundle) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  set(bundle: TlsBundle): void {
    this.bundle = bundle;
    for (const listener of this.listeners) listener(bundle);
  }
}
