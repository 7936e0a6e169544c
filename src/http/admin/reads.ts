import type { Request } from 'express';
import type { ServiceCatalog } from '../../app/catalog.js';
import { isSwitchyardError } from '../../core/errors.js';
import type { Override } from '../../core/override.js';
import type { RolloutState, Verdict } from '../../core/rollout-state.js';
import type { AdminDeps } from './deps.js';
import type { Staleness } from './present.js';

export interface ServiceRead extends Staleness {
  readonly state: RolloutState;
  readonly overrides: ReadonlyMap<string, Override>;
}

/** The `:service` path parameter, checked against the config (404 naming the configured services). */
export function serviceParam(req: Request, catalog: ServiceCatalog): string {
  const service = String(req.params['service']);
  catalog.get(service);
  return service;
}

/** Whether `verdict` judged the state's rollout (a shadow-only verdict, or one stored before verdicts named their rollout, counts too). */
function judged(verdict: Verdict, state: RolloutState): boolean {
  return verdict.startedAt === undefined || verdict.startedAt === null || verdict.startedAt === state.startedAt;
}

/** Store failures after which the replica's last known view is still worth showing. */
function isStoreOutage(err: unknown): err is Error {
  return isSwitchyardError(err) && (err.code === 'SY_ERR_STORE_UNAVAILABLE' || err.code === 'SY_ERR_SCHEMA_TOO_NEW');
}

/**
 * Reads a service from the store; when the store cannot answer, falls back to
 * this replica's routing table and says so with `stale: true`, so an operator
 * still sees what traffic is doing.
 */
export async function readService(deps: AdminDeps, service: string, withOverrides: boolean): Promise<ServiceRead> {
  try {
    const [stored, overrides, verdict] = await Promise.all([
      deps.commands.state(service),
      withOverrides ? deps.commands.overrides(service) : Promise.resolve([]),
      deps.verdict(service),
    ]);
    // The store's verdict record is the verdict's one home; it is shown only beside the rollout it judged.
    const state = { ...stored, lastVerdict: verdict !== null && judged(verdict, stored) ? verdict : null };
    return { state, overrides: new Map(overrides.map((o) => [o.key, o] as const)), stale: false };
  } catch (err) {
    const view = deps.routing.view(service);
    if (!isStoreOutage(err) || view === undefined) throw err;
    deps.log.warn({ service, err: err.message }, 'admin read fell back to the last known state');
    return { state: view.state, overrides: view.overrides, stale: true, staleReason: err.message };
  }
}
