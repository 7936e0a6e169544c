/**
 * Names of the window series a shadow launch records beside the versions' own
 * (the `version` of a WindowSlice). Version names match /^[a-z0-9][a-z0-9._-]*$/i,
 * so a name with a `:` is never a version's.
 *
 *   shadow:<v>       the shadow version's own outcome (errors, latency) on mirrored requests
 *   shadow-base:<v>  stable's outcome on the same mirrored requests, its baseline
 *   shadow-cmp:<v>   one comparison per pair both answered 2xx (comparison.ts)
 */

export type SeriesKind = 'version' | 'shadow' | 'shadow-base' | 'shadow-cmp';

export interface SeriesName {
  readonly kind: SeriesKind;
  /** The version the series is about: the shadow version for the shadow kinds. */
  readonly version: string;
}

const PREFIXED: ReadonlyArray<Exclude<SeriesKind, 'version'>> = ['shadow', 'shadow-base', 'shadow-cmp'];

export function shadowSeries(version: string): string {
  return `shadow:${version}`;
}

export function shadowBaseSeries(version: string): string {
  return `shadow-base:${version}`;
}

export function shadowCompareSeries(version: string): string {
  return `shadow-cmp:${version}`;
}

/** What a series name stands for; a name without a known prefix is a version's own series. */
export function parseSeries(name: string): SeriesName {
  const at = name.indexOf(':');
  const prefix = name.slice(0, at);
  const kind = PREFIXED.find((k) => k === prefix);
  return at > 0 && kind !== undefined ? { kind, version: name.slice(at + 1) } : { kind: 'version', version: name };
}
