import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How a sample model behaves; changed at run time through `POST /_control`. */
export interface ModelBehaviour {
  latencyMs: number;
  /** Share of requests answered 500, 0..1. */
  errorRate: number;
  /** Added to every score (clamped to 0..1): a model that predicts a little differently from another. */
  scoreShift: number;
  /** Share of successful answers, 0..1, whose score is above 1: a broken model that still answers 200. */
  outOfRangeRate: number;
}

export interface SampleBackend {
  readonly url: string;
  readonly port: number;
  readonly behaviour: ModelBehaviour;
  close(): Promise<void>;
}

/**
 * A small model server for the demo and tests: answers any path with a JSON
 * prediction, can be made slow, failing or wrong on demand. Errors and
 * out-of-range scores are spread evenly (every 1/rate-th request) so a
 * demo run is repeatable.
 */
export async function startSampleBackend(options: { version: string; port?: number; host?: string } & Partial<ModelBehaviour>): Promise<SampleBackend> {
  const behaviour: ModelBehaviour = {
    latencyMs: options.latencyMs ?? 0,
    errorRate: options.errorRate ?? 0,
    scoreShift: options.scoreShift ?? 0,
    outOfRangeRate: options.outOfRangeRate ?? 0,
  };
  let errorDebt = 0;
  let outOfRangeDebt = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === '/_control' && req.method === 'POST') return control(req, res, behaviour);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      errorDebt += behaviour.errorRate;
      const fails = errorDebt >= 1;
      if (fails) errorDebt -= 1;
      const answer = () => {
        if (fails) return json(res, 500, { error: `model ${options.version} failed`, model: options.version });
        const input = Buffer.concat(chunks).toString('utf8');
        const shifted = Math.min(1, Math.max(0, sampleScore(input) + behaviour.scoreShift));
        outOfRangeDebt += behaviour.outOfRangeRate;
        const broken = outOfRangeDebt >= 1;
        if (broken) outOfRangeDebt -= 1;
        // 1.001 to 2.001: above 1 even for a score of 0.
        const answered = broken ? 1.001 + shifted : shifted;
        json(res, 200, { model: options.version, score: Math.round(answered * 1000) / 1000, requestId: req.headers['x-request-id'] ?? null });
      };
      if (behaviour.latencyMs > 0) setTimeout(answer, behaviour.latencyMs);
      else answer();
    });
  });
  await new Promise<void>((resolve, reject) => {
    // A port in use is the caller's to report.
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    behaviour,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function control(req: IncomingMessage, res: ServerResponse, behaviour: ModelBehaviour): void {
  let text = '';
  req.on('data', (c: Buffer) => (text += c.toString('utf8')));
  req.on('end', () => {
    try {
      const patch = JSON.parse(text) as Partial<ModelBehaviour>;
      if (typeof patch.latencyMs === 'number' && patch.latencyMs >= 0) behaviour.latencyMs = patch.latencyMs;
      if (typeof patch.errorRate === 'number' && patch.errorRate >= 0 && patch.errorRate <= 1) behaviour.errorRate = patch.errorRate;
      if (typeof patch.scoreShift === 'number' && Math.abs(patch.scoreShift) <= 1) behaviour.scoreShift = patch.scoreShift;
      if (typeof patch.outOfRangeRate === 'number' && patch.outOfRangeRate >= 0 && patch.outOfRangeRate <= 1) behaviour.outOfRangeRate = patch.outOfRangeRate;
      json(res, 200, behaviour);
    } catch {
      json(res, 400, { error: 'body must be JSON like {"errorRate": 0.5, "latencyMs": 20, "scoreShift": 0.1}' });
    }
  });
}

/** A stable pseudo-score in 0..1 from the input, the same for every version (and for the gRPC sample model), so answers look like a model's and versions can be compared. */
export function sampleScore(input: string): number {
  let h = 2166136261;
  for (let i = 0; i < input.length; i++) h = Math.imul(h ^ input.charCodeAt(i), 16777619);
  return Math.round(((h >>> 0) / 0xffffffff) * 1000) / 1000;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
