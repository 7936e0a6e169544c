import { Router } from 'express';
import type { AdminDeps } from './deps.js';
import { presentAuditEntry } from './present.js';
import { auditQuery, parseInput } from './schemas.js';

/**
 * The audit log, newest first. `next` is the id to pass as `before` for the
 * following page, or null when this page held fewer than `limit` (the oldest kept). The
 * store never ends a page inside a group of equal ids (services writing in the
 * same millisecond), so a page is taken whole, even when it holds more than `limit`.
 */
export function auditRouter(deps: AdminDeps): Router {
  const router = Router();

  router.get('/audit', async (req, res) => {
    const query = parseInput(auditQuery, req.query, 'query');
    if (query.service !== undefined) deps.catalog.get(query.service);
    const services = query.service === undefined ? deps.catalog.names : [query.service];
    const page = await deps.audit({ services, limit: query.limit, ...(query.before === undefined ? {} : { before: query.before }) });
    const now = deps.clock.now();
    const next = page.length >= query.limit ? (page.at(-1)?.id ?? null) : null;
    res.json({ entries: page.map((entry) => presentAuditEntry(entry, now)), next });
  });

  return router;
}
