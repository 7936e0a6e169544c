import express, { type Express, type RequestHandler } from 'express';
import { authenticate, refuseUnverifiedClientCert } from './auth.js';
import type { AdminDeps } from './deps.js';
import { notFound, problemHandler } from './problem.js';
import { alertsRouter } from './routes-alerts.js';
import { auditRouter } from './routes-audit.js';
import { commandsRouter } from './routes-commands.js';
import { consoleRouter } from './routes-console.js';
import { healthRouter } from './routes-health.js';
import { metricsRouter } from './routes-metrics.js';
import { openapiRouter } from './routes-openapi.js';
import { overridesRouter } from './routes-overrides.js';
import { seriesRouter } from './routes-series.js';
import { servicesRouter } from './routes-services.js';

export type { AdminDeps } from './deps.js';

/** Admin answers describe live state; no cache may keep them. */
const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  next();
};

/**
 * The admin API as an express app, without a listener: createAdminServer serves it on the
 * admin port, tests to port 0.
 */
export function createAdminApp(deps: AdminDeps): Express {
  if (deps.tokens.length === 0) deps.log.warn({}, 'no admin tokens configured: every /api/v1 call will be refused with 401');
  const app = express();
  app.disable('x-powered-by');
  // ETags are revisions, set by the routes; express's body hashes would only confuse If-Match.
  app.set('etag', false);
  app.use(noStore);
  app.use(refuseUnverifiedClientCert);
  app.use(healthRouter(deps));
  app.use(metricsRouter(deps.metrics));
  app.use(openapiRouter());
  app.use(consoleRouter());
  app.use(
    '/api/v1',
    authenticate(deps.tokens),
    servicesRouter(deps),
    commandsRouter(deps),
    overridesRouter(deps),
    auditRouter(deps),
    alertsRouter(deps),
    seriesRouter(deps),
  );
  app.use(notFound);
  app.use(problemHandler(deps.log));
  return app;
}
