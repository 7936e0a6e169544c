import { Agent } from 'node:http';
import type { ServiceConfig } from '../../config/schema.js';

export interface Target {
  readonly origin: string;
  readonly hostname: string;
  readonly port: number;
  /** The Host header sent upstream. */
  readonly host: string;
  readonly agent: Agent;
}

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

/**
 * Keep-alive agents per target: node:http's Agent, chosen over undici by
 * bench/proxy-core (see the README, "Why node:http for the upstream").
 */
export function buildPools(service: ServiceConfig, onEjection: (ejection: Ejection) => void): ReadonlyMap<string, VersionPool> {
  const policy: HealthPolicy = { failures: service.health.failures, cooldownMs: service.health.cooldown, maxCooldownMs: service.health.maxCooldown };
  const idleMs = service.timeouts.upstreamIdle;
  const pools = new Map<string, VersionPool>();
  for (const [version, { targets }] of Object.entries(service.versions)) {
    pools.set(version, new VersionPool(version, targets.map((origin) => makeTarget(origin, idleMs)), policy, onEjection));
  }
  return pools;
}

/**
 * The agent's `timeout` frees a keep-alive socket idle that long (a shorter
 * `Keep-Alive: timeout` hint from the server wins), so the gateway closes idle
 * connections before the server does: model servers such as uvicorn close them
 * after 5 s without saying so, and a request sent on one as it closes fails.
 * On a socket in use the timeout only emits an event no one listens to.
 */
function makeTarget(origin: string, idleMs: number): Target {
  const url = new URL(origin);
  return {
    origin,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || 80),
    host: url.host,
    agent: new Agent({ keepAlive: true, scheduling: 'lifo', maxFreeSockets: 1024, timeout: idleMs }),
  };
}

export function destroyPools(pools: Iterable<ReadonlyMap<string, VersionPool>>): void {
  for (const byVersion of pools) for (const pool of byVersion.values()) for (const t of pool.targets) t.agent.destroy();
}
