import { Router } from 'express';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi.js';

/**
 * GET /api/v1/openapi.json: the admin API's OpenAPI 3.1 document. No token: it
 * is documentation and holds no state, so mount it before `/api/v1`'s
 * authentication, like /healthz and /metrics.
 */
export function openapiRouter(): Router {
  const router = Router();
  let document: OpenApiDocument | undefined;
  router.get('/api/v1/openapi.json', (_req, res) => {
    document ??= buildOpenApiDocument();
    res.json(document);
  });
  return router;
}
