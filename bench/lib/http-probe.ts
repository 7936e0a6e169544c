import { createServer, type AddressInfo } from 'node:net';
import { Agent, request } from 'node:http';

/** A loopback port free right now (the OS picks it); for servers that need the port in their config. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** GETs `url` until `ok` says yes or `timeoutMs` passes. */
export async function pollUntil(url: string, ok: (res: Response) => boolean, timeoutMs: number, headers: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (ok(res)) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last})`);
}

/**
 * Share of answers served by `version` for the keys `user-1..user-N` (the keys the
 * load cycles over), each on a fresh connection so that every worker of a proxy is
 * asked: checks that a canary is in place everywhere before the load starts.
 */
export async function versionShare(url: string, keys: number, keyHeader: string, version: string): Promise<number> {
  const agent = new Agent({ keepAlive: false, maxSockets: 32 });
  const target = new URL(url);
  let hits = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: target.hostname, port: target.port, path: target.pathname, agent, headers: { [keyHeader]: `user-${i}` } }, (res) => {
        if (res.headers['x-model-version'] === version) hits++;
        res.resume();
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  await Promise.all(Array.from({ length: keys }, (_, i) => one(i + 1)));
  agent.destroy();
  return hits / keys;
}
