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

/** One version's targets, served round-robin. */
export class VersionPool {
  private next = 0;

  constructor(
    readonly version: string,
    readonly targets: readonly Target[],
  ) {}

  pick(): Target {
    const target = this.targets[this.next] as Target;
    this.next = (this.next + 1) % this.targets.length;
    return target;
  }
}

/**
 * Keep-alive agents per target: node:http's Agent, chosen over undici by
 * bench/proxy-core (see the README, "Why node:http for the upstream").
 */
export function buildPools(service: ServiceConfig): ReadonlyMap<string, VersionPool> {
  const pools = new Map<string, VersionPool>();
  for (const [version, { targets }] of Object.entries(service.versions)) {
    pools.set(version, new VersionPool(version, targets.map(makeTarget)));
  }
  return pools;
}

function makeTarget(origin: string): Target {
  const url = new URL(origin);
  return {
    origin,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || 80),
    host: url.host,
    agent: new Agent({ keepAlive: true, scheduling: 'lifo', maxFreeSockets: 1024 }),
  };
}

export function destroyPools(pools: Iterable<ReadonlyMap<string, VersionPool>>): void {
  for (const byVersion of pools) for (const pool of byVersion.values()) for (const t of pool.targets) t.agent.destroy();
}
