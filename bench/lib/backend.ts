import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerStats } from './proc-stats.js';
import { monoUs, TraceLog } from './trace.js';

/**
 * The model backend for the bench, in its own process: a fast server that answers a
 * small JSON at once and a slow one that answers after a fixed delay. Counts the
 * TCP connections it accepts so the bench can show upstream keep-alive at work.
 */
const delayMs = Number(process.env.BENCH_SLOW_MS ?? 20);
const BODY = Buffer.from(JSON.stringify({ model: 'bench', score: 0.7312, label: 'legit' }));
const HEADERS = { 'content-type': 'application/json', 'content-length': String(BODY.length) };
const trace = new TraceLog();
let connections = 0;
let requests = 0;
let canary = 0;

function listen(server: Server): Promise<number> {
  server.keepAliveTimeout = 65_000;
  server.on('connection', () => connections++);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function count(version: string | string[] | undefined): void {
  requests++;
  if (version === 'v2') canary++;
}

/** Answers, and records when a request carrying x-request-id came in and when it was answered. */
function answer(req: IncomingMessage, res: ServerResponse, gotAt: number): void {
  res.writeHead(200, HEADERS);
  res.end(BODY);
  const id = req.headers['x-request-id'];
  if (typeof id === 'string') trace.push(id, gotAt, monoUs());
}

const fast = createServer((req, res) => {
  const gotAt = monoUs();
  count(req.headers['x-model-version']);
  req.resume();
  answer(req, res, gotAt);
});
const slow = createServer((req, res) => {
  const gotAt = monoUs();
  count(req.headers['x-model-version']);
  req.resume();
  setTimeout(answer, delayMs, req, res, gotAt);
});

const [fastPort, slowPort] = await Promise.all([listen(fast), listen(slow)]);
answerStats(() => {
  const seen = { connections, requests, canary };
  connections = 0;
  requests = 0;
  canary = 0;
  return seen;
}, trace);
process.send?.({ type: 'ready', fastPort, slowPort });
