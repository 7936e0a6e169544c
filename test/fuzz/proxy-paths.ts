import fc from 'fast-check';

/**
 * Random request targets for the proxy path fuzz: segments built from service
 * names, dot-segments in every spelling a backend might decode (`%2e`, `%2E`,
 * `.%2e`), separators that some backends decode (`%2f`, `%5c`, a raw `\`),
 * `;params`, encoded unreserved characters, in origin-form or absolute-form,
 * with queries that hold dot-segments of their own, and a few targets to
 * refuse whole (a fragment, user info in the authority).
 */

export interface FuzzTarget {
  /** What goes on the request line. */
  readonly target: string;
  /** The Host header sent. */
  readonly hostHeader: string;
  /** The host the request is for: the authority of an absolute-form target, else the Host header. */
  readonly host: string;
  /** The path as sent (origin-form part of the target, no query). */
  readonly path: string;
  /** `?...` as sent, or empty. */
  readonly query: string;
}

const NAME = fc.constantFrom('fraud', 'api', 'v2', 'admin', 'score', 'x', 'fr%61ud', 'a.b', '');
const DOT = fc.constantFrom('.', '..', '%2e', '%2E', '%2e%2e', '%2E%2e', '.%2e', '%2e.', '..;p', '.;p', '...');
const SEPARATOR = fc.constantFrom('%2f', '%2F', '%5c', '%5C', '\\');
const PIECE = fc.oneof({ weight: 3, arbitrary: NAME }, { weight: 2, arbitrary: DOT });
/** One path segment: usually one piece, sometimes pieces joined by an encoded separator. */
const SEGMENT = fc.oneof(
  { weight: 4, arbitrary: PIECE },
  { weight: 1, arbitrary: fc.tuple(PIECE, SEPARATOR, PIECE).map(([a, sep, b]) => `${a}${sep}${b}`) },
);
const PATH = fc.array(SEGMENT, { minLength: 1, maxLength: 6 }).map((segments) => `/${segments.join('/')}`);
/** Paths that mostly start in a service, so that their dot-segments have something to leave. */
const SERVICE_PATH = fc.tuple(fc.constantFrom('/fraud', '/fraud/v2', '/api', ''), PATH).map(([prefix, rest]) => `${prefix}${rest}`);
/** One target in about twenty is malformed whatever its path. */
const rarely = <T>(usual: fc.Arbitrary<T>, odd: T): fc.Arbitrary<T> => fc.oneof({ weight: 19, arbitrary: usual }, { weight: 1, arbitrary: fc.constant(odd) });
const QUERY = rarely(fc.constantFrom('', '?', '?next=/../../admin', '?a=%2e%2e%2f&b=1.5'), '#/../admin');
const AUTHORITY = rarely(fc.constantFrom('gw', 'GW:8080', 'eu.models.test', 'eu.models.test:443'), 'user@eu.models.test');
const SCHEME = fc.constantFrom('http://', 'HTTP://', 'https://');

export const fuzzTarget: fc.Arbitrary<FuzzTarget> = fc
  .tuple(SERVICE_PATH, QUERY, fc.option(fc.tuple(SCHEME, AUTHORITY), { freq: 4 }), fc.constantFrom('gw', 'eu.models.test'))
  .map(([path, query, absolute, hostHeader]) => {
    if (absolute === null) return { target: `${path}${query}`, hostHeader, host: hostHeader, path, query };
    const [scheme, authority] = absolute;
    return { target: `${scheme}${authority}${path}${query}`, hostHeader, host: authority, path, query };
  });

/**
 * Whether some backend could read a dot-segment into this path: any segment
 * that is `.` or `..` before its `;params`, as written or with `%2e`, `%2f`
 * and `%5c` decoded, splitting on `/` and `\`. Written independently of the
 * proxy's normaliser, as the fuzz's oracle.
 */
export function hasDotSegment(path: string): boolean {
  const readings = [path, path.replace(/%2e/gi, '.').replace(/%2f/gi, '/').replace(/%5c/gi, '\\')];
  return readings.some((reading) =>
    reading
      .split(/[/\\]/)
      .map((segment) => segment.split(';')[0])
      .some((segment) => segment === '.' || segment === '..'),
  );
}

/** Whether the target is malformed whatever its path: a fragment, or user info before the host. */
export function malformed(request: FuzzTarget): boolean {
  return request.target.includes('#') || request.host.includes('@');
}

/** Whether `path` is `prefix` or below it at a segment boundary. */
export function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
}
