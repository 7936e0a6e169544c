import { Router } from 'express';
import type { AdminDeps } from './deps.js';
import { presentAuditEntry } from './present.js';
import { auditQuery, parseInput } from './schemas.js';

/**
 * The audit log, newest first. `next` is the id to pass as `before` for the
 * following page, or null when this page reached the oldest entry kept.
 */
export function auditRouter(deps: AdminDeps): Router {
  const router = Router();

  router.get('/audit', async (req, res) => {
    const query = parseInput(auditQuery, req.query, 'query');
    if (query.service !== undefined) deps.catalog.get(query.service);
    const services = query.service === undefined ? deps.catalog.names : [query.service];
    // One extra entry tells whether an older page exists without a second read.
    const found = await deps.audit({ services, limit: query.limit + 1, ...(query.before === undefined ? {} : { before: query.before }) });
    const page = found.slice(0, query.limit);
    const now = deps.clock.now();
    const next = found.length > query.limit ? (page.at(-1)?.id ?? null) : null;
    res.json({ entries: page.map((entry) => presentAuditEntry(entry, now)), next });
  });

  return router;
}
