import type { Config } from '../../config/schema.js';
import { SwitchyardError } from '../../core/errors.js';

/**
 * Proxy workers that must be listening for /readyz to pass: `proxy.readyWorkers`,
 * or half of the workers rounded up. More than the workers that run could never
 * pass, so it is refused before anything starts.
 */
export function readyWorkersNeeded(config: Config, workers: number): number {
  const wanted = config.proxy.readyWorkers;
  if (wanted === undefined) return Math.ceil(workers / 2);
  if (wanted > workers) {
    throw new SwitchyardError('SY_ERR_CONFIG', `proxy.readyWorkers: ${wanted} is more than the ${workers} proxy workers this serve runs (--workers or proxy.workers); /readyz could never pass`);
  }
  return wanted;
}
