import { Router, type Request } from 'express';
import { callerOf } from './auth.js';
import { writeGuard } from './body.js';
import type { AdminDeps } from './deps.js';
import { presentOverride } from './present.js';
import { serviceParam } from './reads.js';
import { overrideBody, overrideParams, parseInput } from './schemas.js';

/** The `:key` path parameter; express has already percent-decoded it (`a%2Fb` is `a/b`). */
function keyParam(req: Request): string {
  return parseInput(overrideParams, { key: req.params['key'] }, 'path').key;
}

/** Overrides: tracked, expiring pins of one user key to one version, each with a reason and an author. */
export function overridesRouter(deps: AdminDeps): Router {
  const router = Router();
  const guard = writeGuard();
  const path = '/services/:service/overrides';

  router.get(path, async (req, res) => {
    const service = serviceParam(req, deps.catalog);
    const overrides = await deps.commands.overrides(service);
    const now = deps.clock.now();
    overrides.sort((a, b) => a.expiresAt - b.expiresAt || a.key.localeCompare(b.key));
    res.json({ overrides: overrides.map((o) => presentOverride(o, now)) });
  });

  router.put(`${path}/:key`, ...guard, async (req, res) => {
    const service = serviceParam(req, deps.catalog);
    const key = keyParam(req);
    const body = parseInput(overrideBody, req.body, 'body');
    const actor = callerOf(res).name;
    const override = await deps.commands.putOverride(service, key, { version: body.version, reason: body.reason, ...(body.ttl === undefined ? {} : { ttlMs: body.ttl }) }, actor);
    deps.log.info({ service, actor, action: 'override-put', key, version: body.version, reason: body.reason }, 'admin override pinned');
    res.json(presentOverride(override, deps.clock.now()));
  });

  router.delete(`${path}/:key`, ...guard, async (req, res) => {
    const service = serviceParam(req, deps.catalog);
    const key = keyParam(req);
    const actor = callerOf(res).name;
    const removed = await deps.commands.deleteOverride(service, key, actor);
    deps.log.info({ service, actor, action: 'override-delete', key }, 'admin override removed');
    res.json({ removed: presentOverride(removed, deps.clock.now()) });
  });

  return router;
}
