import type { ServiceConfig } from '../../config/schema.js';
import { targetKey, type TlsBundle } from '../../tls/material.js';
import { SYSTEM_TRUST, Target, VersionTls } from './upstream-target.js';

export type { Target } from './upstream-target.js';

export interface HealthPolicy {
  /** Failures in a row that eject a target. */
  readonly failures: number;
  readonly cooldownMs: number;
  readonly maxCooldownMs: number;
}

export interface Ejection {
  readonly version: string;
  readonly target: string;
  readonly cooldownMs: number;
  readonly failures: number;
}

interface TargetHealth {
  failuresInARow: number;
  /** Ejections since the target last answered; the cool-down doubles with each. */
  ejections: number;
  ejectedUntilMs: number;
}

/**
 * One version's targets, served round-robin, with passive health: a target that
 * fails `failures` times in a row is left out for a cool-down that doubles up to
 * a cap. The last target still in rotation is never ejected.
 */
export class VersionPool {
  private next = 0;
  private readonly health: TargetHealth[];

  constructor(
    readonly version: string,
    readonly targets: readonly Target[],
    private readonly policy: HealthPolicy,
    private readonly onEjection: (ejection: Ejection) => void,
  ) {
    this.health = targets.map(() => ({ failuresInARow: 0, ejections: 0, ejectedUntilMs: 0 }));
  }

  pick(nowMs: number): Target {
    for (let tried = 0; tried < this.targets.length; tried++) {
      const i = this.next;
      this.next = (this.next + 1) % this.targets.length;
      if ((this.health[i] as TargetHealth).ejectedUntilMs <= nowMs) return this.targets[i] as Target;
    }
    return this.targets[this.next] as Target;
  }

  /** The next target, another than `avoid` when the version has another: the one that refused a connection may be going down. */
  pickOther(avoid: Target | null, nowMs: number): Target {
    let target = this.pick(nowMs);
    for (let tried = 1; target === avoid && tried < this.targets.length; tried++) target = this.pick(nowMs);
    return target;
  }

  /** Called once per attempt with whether the target answered (any HTTP answer counts). */
  report(target: Target, answered: boolean, nowMs: number): void {
    const i = this.targets.indexOf(target);
    const health = this.health[i];
    if (health === undefined) return;
    if (answered) {
      health.failuresInARow = 0;
      health.ejections = 0;
      return;
    }
    health.failuresInARow++;
    if (health.failuresInARow < this.policy.failures || !this.othersInRotation(i, nowMs)) return;
    const cooldownMs = Math.min(this.policy.cooldownMs * 2 ** health.ejections, this.policy.maxCooldownMs);
    health.ejections++;
    health.ejectedUntilMs = nowMs + cooldownMs;
    this.onEjection({ version: this.version, target: target.origin, cooldownMs, failures: health.failuresInARow });
    health.failuresInARow = 0;
  }

  private othersInRotation(except: number, nowMs: number): boolean {
    return this.health.some((h, i) => i !== except && h.ejectedUntilMs <= nowMs);
  }
}

/** One pool per version of `service`, its https:// targets set up with the version's material in `tls`. */
export function buildPools(service: string, config: ServiceConfig, tls: TlsBundle, onEjection: (ejection: Ejection) => void): ReadonlyMap<string, VersionPool> {
  const policy: HealthPolicy = { failures: config.health.failures, cooldownMs: config.health.cooldown, maxCooldownMs: config.health.maxCooldown };
  const idleMs = config.timeouts.upstreamIdle;
  const pools = new Map<string, VersionPool>();
  for (const [version, { targets }] of Object.entries(config.versions)) {
    const versionTls = new VersionTls(tls.targets[targetKey(service, version)] ?? SYSTEM_TRUST);
    pools.set(version, new VersionPool(version, targets.map((origin) => new Target(origin, idleMs, versionTls)), policy, onEjection));
  }
  return pools;
}

/**
 * Hands the https:// targets of `service` whose material changed the new one
 * (a reload): their next handshakes use it. Targets whose material is the same
 * keep their connections and cached sessions.
 */
export function applyTls(service: string, pools: ReadonlyMap<string, VersionPool>, tls: TlsBundle): void {
  for (const pool of pools.values()) {
    const material = tls.targets[targetKey(service, pool.version)] ?? SYSTEM_TRUST;
    const changed = pool.targets.filter((t) => t.secure && !t.uses(material));
    if (changed.length === 0) continue;
    const versionTls = new VersionTls(material);
    for (const target of changed) target.useTls(versionTls);
  }
}

export function destroyPools(pools: Iterable<ReadonlyMap<string, VersionPool>>): void {
  for (const byVersion of pools) for (const pool of byVersion.values()) for (const t of pool.targets) t.destroy();
}
