/** Counts per version from a steady stream of requests by many users. */
export interface TrafficTally {
  readonly byVersion: Map<string, number>;
  errors: number;
  total: number;
}

export function newTally(): TrafficTally {
  return { byVersion: new Map(), errors: 0, total: 0 };
}

/**
 * Sends `rps` requests per second, each from a random one of `users` user keys,
 * until `signal` aborts. Requests in flight are bounded so a slow model cannot
 * pile them up.
 */
export async function generateTraffic(
  url: string,
  options: { rps: number; users: number; header: string; signal: AbortSignal; tally: () => TrafficTally; random?: () => number },
): Promise<void> {
  const random = options.random ?? Math.random;
  const maxInFlight = Math.max(4, options.rps);
  let inFlight = 0;
  const intervalMs = 1000 / options.rps;
  while (!options.signal.aborted) {
    if (inFlight < maxInFlight) {
      inFlight++;
      const user = `user-${Math.floor(random() * options.users)}`;
      void fetch(url, { method: 'POST', body: JSON.stringify({ features: [random()] }), headers: { [options.header]: user, 'content-type': 'application/json' } })
        .then(async (res) => {
          await res.arrayBuffer();
          const tally = options.tally();
          const version = res.headers.get('x-model-version') ?? 'none';
          tally.byVersion.set(version, (tally.byVersion.get(version) ?? 0) + 1);
          tally.total++;
          if (res.status >= 500) tally.errors++;
        })
        .catch(() => {
          options.tally().errors++;
        })
        .finally(() => inFlight--);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
