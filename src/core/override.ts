/** A tracked, expiring pin of one user key to one version. */
export interface Override {
  readonly service: string;
  readonly key: string;
  readonly version: string;
  readonly reason: string;
  readonly author: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export function isLive(override: Override, now: number): boolean {
  return override.expiresAt > now;
}
