import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';

/**
 * bench/lib/http-probe.ts and prime.ts for a gateway that serves its proxy port
 * over TLS: the same probes over node:https, trusting the bench's private CA
 * (global fetch would trust only the system's roots).
 */

type Outcome = { status: number; version: string | undefined };

function get(url: URL, agent: Agent, headers: Record<string, string>, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, agent, headers, timeout: timeoutMs }, (res) => {
      const version = res.headers['x-model-version'];
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, version: typeof version === 'string' ? version : undefined }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const freshAgent = (ca: string, maxSockets: number) => new Agent({ keepAlive: false, maxSockets, ca: readFileSync(ca, 'utf8') });

/** GETs `url` until it answers 2xx or `timeoutMs` passes. */
export async function pollUntilHttps(url: string, ca: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<void> {
  const agent = freshAgent(ca, 1);
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  try {
    while (Date.now() < deadline) {
      try {
        const { status } = await get(new URL(url), agent, headers, 1_000);
        if (status >= 200 && status < 300) return;
        last = `HTTP ${status}`;
      } catch (err) {
        // OpenSSL's messages end in a newline and the source location: the reason is enough.
        last = (err instanceof Error ? err.message : String(err)).trim().replace(/:\.\.\/deps\/openssl\S*$/, '');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    agent.destroy();
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last})`);
}

/** Share of answers served by `version` for keys user-1..user-N, each on a fresh connection (see http-probe.ts). */
export async function versionShareHttps(url: string, ca: string, keys: number, keyHeader: string, version: string): Promise<number> {
  const agent = freshAgent(ca, 32);
  const target = new URL(url);
  try {
    const answers = await Promise.all(Array.from({ length: keys }, (_, i) => get(target, agent, { [keyHeader]: `user-${i + 1}` }, 5_000)));
    return answers.filter((a) => a.version === version).length / keys;
  } finally {
    agent.destroy();
  }
}

/** prime.ts over TLS: `count` requests at once, each on its own connection, to fill the gateway's upstream pools. */
export async function primeHttps(url: string, ca: string, count: number, keyHeader: string): Promise<void> {
  const agent = freshAgent(ca, count);
  const target = new URL(url);
  try {
    await Promise.all(Array.from({ length: count }, (_, i) => get(target, agent, { [keyHeader]: `prime-${i}` }, 5_000)));
  } finally {
    agent.destroy();
  }
}
