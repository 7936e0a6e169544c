import { parseConfig } from '../../src/config/load.js';
import { RouteMatcher } from '../../src/http/proxy/route-matcher.js';
import { median } from '../lib/table.js';
import { MEASURED_PATH, MEASURED_SERVICE, scaleConfigYaml } from './config.js';

/** Lookups per timed batch; the configs take turns for this many batches, after one batch each to warm the JIT. */
const LOOKUPS = 500_000;
const BATCHES = 7;
const HOST = '127.0.0.1:8080';
const URL = `${MEASURED_PATH}?model=fraud`;

/**
 * Nanoseconds one route lookup of the measured path takes in this process,
 * with the matcher built from the bench's config of each number of services
 * (the part of the request path that the number of services could make
 * dearer): the median of batches that alternate between the configs.
 */
export function lookupNs(variants: readonly number[], backend: string): number[] {
  const matchers = variants.map((services) => {
    const yaml = scaleConfigYaml({ services, proxyPort: 8080, adminPort: 8081, backend });
    return new RouteMatcher(parseConfig(yaml, {}, 'bench/route-scale config').services);
  });
  matchers.forEach(batchNs);
  const times = matchers.map((): number[] => []);
  for (let batch = 0; batch < BATCHES; batch++) matchers.forEach((matcher, i) => times[i]?.push(batchNs(matcher)));
  return times.map(median);
}

function batchNs(matcher: RouteMatcher): number {
  let found = 0;
  const from = process.hrtime.bigint();
  for (let i = 0; i < LOOKUPS; i++) {
    const located = matcher.locate(URL, HOST);
    if (located.ok && located.service === MEASURED_SERVICE) found++;
  }
  const ns = Number(process.hrtime.bigint() - from) / LOOKUPS;
  if (found !== LOOKUPS) throw new Error(`the matcher sent ${LOOKUPS - found} lookups of ${URL} elsewhere than ${MEASURED_SERVICE}`);
  return ns;
}
