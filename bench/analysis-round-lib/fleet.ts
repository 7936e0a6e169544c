import { ServiceCatalog } from '../../src/app/catalog.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

/**
 * The fleet a round judges: `count` services written as an operator writes
 * them and read by the gateway's parser, each with stable v1, candidate v2
 * and a step plan whose first bake outlasts the bench, so every rollout stays
 * on its 5 % step and each round judges every service.
 */
export interface Fleet {
  readonly config: Config;
  readonly catalog: ServiceCatalog;
  readonly names: readonly string[];
}

export const STABLE = 'v1';
export const CANDIDATE = 'v2';

export function serviceName(i: number): string {
  return `model-${String(i).padStart(4, '0')}`;
}

export function buildFleet(count: number): Fleet {
  const services = Object.fromEntries(
    Array.from({ length: count }, (_, i) => [
      serviceName(i),
      {
        match: { pathPrefix: `/${serviceName(i)}` },
        versions: { [STABLE]: { targets: ['http://127.0.0.1:9001'] }, [CANDIDATE]: { targets: ['http://127.0.0.1:9002'] } },
        rollout: {
          stable: STABLE,
          strategy: 'canary',
          steps: [
            { weight: 5, bake: '30m' },
            { weight: 25, bake: '30m' },
            { weight: 100, bake: '30m' },
          ],
        },
      },
    ]),
  );
  const config = parseConfig(JSON.stringify({ services }), {}, 'bench fleet');
  return { config, catalog: new ServiceCatalog(config.services), names: Object.keys(config.services) };
}
