import { randomUUID } from 'node:crypto';
import { ServiceCatalog } from '../../src/app/catalog.js';
import { systemClock } from '../../src/app/clock.js';
import { RolloutCommands } from '../../src/app/commands.js';
import { silentLogger } from '../../src/app/logger.js';
import { RoutingTable } from '../../src/app/routing-table.js';
import { parseConfig } from '../../src/config/load.js';
import { Resolver } from '../../src/http/proxy/resolve.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { TlsMirror } from '../../src/tls/tls-registry.js';

export const BENCH_SERVICE = 'bench-model';
export const STICKY_HEADER = 'x-user-id';

/** One service, two versions on the same backend, sticky by header, as a gateway config would say it. */
export function benchConfigYaml(backend: string): string {
  return `
proxy: { listen: "127.0.0.1:0" }
log: { level: silent }
services:
  ${BENCH_SERVICE}:
    match: { pathPrefix: / }
    stickiness: { header: ${STICKY_HEADER}, cookie: sy_uid }
    timeouts: { connect: 2s, request: 30s }
    versions:
      v1: { targets: ["${backend}"] }
      v2: { targets: ["${backend}"] }
    rollout:
      stable: v1
      strategy: canary
      steps:
        - { weight: 10, bake: 1h }
        - { weight: 100, bake: 1h }
`;
}

export interface BenchCore {
  readonly resolver: Resolver;
  readonly routing: RoutingTable;
}

/**
 * The Switchyard request path as `serve` builds it: memory store, catalog from the
 * parsed config, seeded state, routing table, then a 10 % canary of v2 started
 * through the rollout commands (so the assignment runs the hash on every request).
 */
export async function buildCore(backend: string): Promise<BenchCore> {
  const config = parseConfig(benchConfigYaml(backend), {}, 'bench config');
  const store = new MemoryStore();
  const catalog = new ServiceCatalog(config.services);
  const commands = new RolloutCommands(store, catalog, systemClock);
  const seeded = await commands.seed();
  const routing = new RoutingTable(store, catalog, systemClock, silentLogger);
  await routing.start(seeded, 60_000);
  await commands.run(BENCH_SERVICE, { type: 'start', candidate: 'v2' }, { actor: 'bench' });
  const state = await commands.run(BENCH_SERVICE, { type: 'set-weight', weightBp: 1000 }, { actor: 'bench' });
  const view = routing.view(BENCH_SERVICE);
  if (view?.state.revision !== state.revision || view.state.candidate !== 'v2') {
    throw new Error(`routing table did not follow the store: ${JSON.stringify(view?.state)}`);
  }
  const resolver = new Resolver(config.services, routing, systemClock, () => randomUUID(), () => undefined, new TlsMirror());
  return { resolver, routing };
}
