import { SwitchyardError } from '../../core/errors.js';

/**
 * Every Redis key and channel Switchyard uses is built here. All keys of one
 * service carry the `{service}` hash tag, so they land in one Cluster slot and
 * the multi-key scripts can touch them together.
 */
export interface ServiceKeys {
  /** Hash: `revision`, `schema` and `doc` (the rollout state JSON). */
  readonly state: string;
  /** Hash: user key -> override JSON. */
  readonly overrides: string;
  /** Sorted set: user key scored by expiresAt, so expired pins are found without reading them all. */
  readonly overrideExpiry: string;
  /** Stream, capped: one audit entry (JSON in field `entry`) per accepted change. */
  readonly audit: string;
  /** String: the latest analysis verdict (JSON). */
  readonly verdict: string;
  /**
   * Hash per bucket: the analysis windows of every version in the bucket starting
   * at `bucketMs`, fields `<version>|<counter>` (see windows.ts).
   */
  window(bucketMs: number): string;
}

export function serviceKeys(prefix: string, service: string): ServiceKeys {
  // A brace inside the name would end the hash tag early and scatter the keys across slots.
  if (service === '' || /[{}]/.test(service)) {
    throw new SwitchyardError('SY_ERR_VALIDATION', `service name "${service}" cannot be used in a Redis key`);
  }
  const base = `${withSeparator(prefix)}{${service}}`;
  return {
    state: `${base}:state`,
    overrides: `${base}:overrides`,
    overrideExpiry: `${base}:overrides-exp`,
    audit: `${base}:audit`,
    verdict: `${base}:verdict`,
    window: (bucketMs) => `${base}:win:${bucketMs}`,
  };
}

/** A lease belongs to the deployment, not to a service, so it carries no hash tag. */
export function leaseKey(prefix: string, name: string): string {
  return `${withSeparator(prefix)}lease:${name}`;
}

/** The pub/sub channel every replica of one deployment (one prefix) listens on. */
export function changesChannel(prefix: string): string {
  return `${withSeparator(prefix)}changes`;
}

function withSeparator(prefix: string): string {
  return prefix === '' ? '' : `${prefix}:`;
}
