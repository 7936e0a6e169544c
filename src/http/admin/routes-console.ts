import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import express, { Router, type RequestHandler } from 'express';

/**
 * The web console: a static page, one ES module and a stylesheet from
 * ./console/ (copied beside the compiled module by scripts/copy-assets.mjs),
 * the duration wording it shares with the CLI (a plain ES module in core,
 * copied the same way), plus uPlot's dist files from node_modules. No token
 * is needed to load the page; every API call it makes sends the token the
 * operator typed in.
 */

const CONSOLE_DIR = fileURLToPath(new URL('./console/', import.meta.url));
const CORE_DIR = fileURLToPath(new URL('../../core/', import.meta.url));
const UPLOT_DIR = dirname(createRequire(import.meta.url).resolve('uplot'));

/** The page loads only its own files and talks only to this origin. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  // uPlot positions its cursor and legend with inline styles.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
};

export function consoleRouter(): Router {
  const router = Router();
  const files = { index: 'index.html', etag: false, fallthrough: true } as const;
  router.use('/vendor/uplot', securityHeaders, express.static(UPLOT_DIR, { ...files, index: false }));
  router.get(['/', '/index.html', '/console.js', '/console.css'], securityHeaders, express.static(CONSOLE_DIR, files));
  // Only this one file of core: the route names it, so the static handler can reach nothing else there.
  router.get('/duration-text.js', securityHeaders, express.static(CORE_DIR, files));
  return router;
}
