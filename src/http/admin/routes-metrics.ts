import { Router } from 'express';

/** What the route needs of the metrics (main passes its Metrics); http does not import the adapter. */
export interface MetricsSource {
  readonly contentType: string;
  exposition(): Promise<string>;
}

/**
 * GET /metrics in the Prometheus text format. No token, like /healthz: Prometheus
 * scrapes it without credentials, so mount it outside `/api/v1`'s authentication
 * and keep the admin port off the public network.
 */
export function metricsRouter(metrics: MetricsSource): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const body = await metrics.exposition();
    res.setHeader('Content-Type', metrics.contentType);
    res.send(body);
  });
  return router;
}
