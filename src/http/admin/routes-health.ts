import { Router } from 'express';
import type { AdminDeps } from './deps.js';

/** Liveness and readiness: no token, so probes and load balancers can ask. */
export function healthRouter(deps: Pick<AdminDeps, 'routing'>): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', (_req, res) => {
    const health = deps.routing.health();
    const store = health.storeUp ? 'up' : 'down';
    if (health.problems.length === 0) {
      res.json({ ready: true, store });
      return;
    }
    res.status(503).json({ ready: false, store, problems: health.problems });
  });

  return router;
}
