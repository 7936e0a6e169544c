import { Router } from 'express';
import { packageVersion } from '../../version.js';
import type { AdminDeps, ProxyReadiness } from './deps.js';

/** Why the request path cannot take traffic; empty when it can. */
function proxyProblems(proxy: ProxyReadiness): string[] {
  const problems: string[] = [];
  if (!proxy.listening) problems.push('proxy: not listening yet');
  const workers = proxy.workers;
  if (workers !== undefined && workers.alive < workers.needed) {
    problems.push(`proxy workers: ${workers.alive} alive, ${workers.needed} needed (proxy.readyWorkers)`);
  }
  return problems;
}

/** Liveness and readiness: no token, so probes and load balancers can ask. */
export function healthRouter(deps: Pick<AdminDeps, 'routing' | 'proxy'>): Router {
  const router = Router();

  // The version lets a probe, and the console's footer, tell which release answers.
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', version: packageVersion() });
  });

  router.get('/readyz', (_req, res) => {
    const health = deps.routing.health();
    const store = health.storeUp ? 'up' : 'down';
    const proxy = deps.proxy?.();
    const problems = [...health.problems, ...(proxy === undefined ? [] : proxyProblems(proxy))];
    const workers = proxy?.workers === undefined ? {} : { workers: proxy.workers };
    const warnings = health.warnings.length === 0 ? {} : { warnings: health.warnings };
    if (problems.length === 0) {
      res.json({ ready: true, store, ...workers, ...warnings });
      return;
    }
    res.status(503).json({ ready: false, store, ...workers, problems, ...warnings });
  });

  return router;
}
