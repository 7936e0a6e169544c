import { bucketOf } from '../assignment.js';

/**
 * Which requests are mirrored to the shadow version: the key's bucket, the same
 * murmur3 of `salt:key` mod 10000 that assignment uses (src/core/assignment.ts),
 * below the sample rate in basis points. A shadow launch has its own salt, so
 * its sample is independent of who the canary takes; the same key, salt and
 * rate always give the same answer on every replica, and raising the rate only
 * adds keys to the sample.
 */
export function inShadowSample(salt: string, key: string, sampleBp: number): boolean {
  return bucketOf(salt, key) < sampleBp;
}
