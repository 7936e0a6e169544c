import { parseConfig } from '../../src/config/load.js';
import type { Step } from '../../src/core/rollout-state.js';

/**
 * The bench's service written as an operator writes a gateway config and read
 * by the gateway's own parser, so the loop's settings (interval, bucket width,
 * baseline, maxInconclusive) are the production defaults and the step plan
 * means what it means in a config file.
 */
const CONFIG = parseConfig(
  JSON.stringify({
    services: {
      bench: {
        match: { pathPrefix: '/bench' },
        versions: { v1: { targets: ['http://127.0.0.1:9001'] }, v2: { targets: ['http://127.0.0.1:9002'] } },
        rollout: {
          stable: 'v1',
          strategy: 'canary',
          steps: [
            { weight: 5, bake: '5m' },
            { weight: 25, bake: '5m' },
            { weight: 50, bake: '5m' },
            { weight: 100, bake: '5m' },
          ],
        },
      },
    },
  }),
  {},
  'bench config',
);

export const SERVICE = 'bench';
export const STABLE = CONFIG.services[SERVICE]!.rollout.stable;
export const CANDIDATE = 'v2';
export const VERSIONS: readonly string[] = Object.keys(CONFIG.services[SERVICE]!.versions);

export const LOOP = {
  intervalMs: CONFIG.analysis.interval,
  bucketMs: CONFIG.analysis.bucket,
  baselineMs: CONFIG.analysis.baseline,
  maxInconclusive: CONFIG.analysis.maxInconclusive,
} as const;

export const STEP_PLAN: readonly Step[] = CONFIG.services[SERVICE]!.rollout.steps;

/** "5 % 5 min → 25 % 5 min → …": the plan as the output states it. */
export function planText(steps: readonly Step[]): string {
  return steps.map((s) => `${s.weightBp / 100} % ${s.bakeMs / 60_000} min`).join(' → ');
}
