import { Agent, request } from 'node:http';

/**
 * Sends `count` requests at once and waits for all answers. wrk stops with requests in
 * flight, and a proxy that cancels upstream requests on client abort (as the core must)
 * loses those upstream connections; priming after the warm-up lets every variant start
 * the measured run with a full keep-alive pool, so the run measures steady state.
 */
export async function prime(url: string, count: number, keyHeader: string): Promise<void> {
  const agent = new Agent({ keepAlive: false, maxSockets: count });
  const target = new URL(url);
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        { host: target.hostname, port: target.port, path: target.pathname, agent, headers: { [keyHeader]: `prime-${i}` } },
        (res) => {
          res.resume();
          res.on('end', resolve);
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  await Promise.all(Array.from({ length: count }, (_, i) => one(i)));
  agent.destroy();
}
