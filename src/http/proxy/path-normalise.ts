/**
 * Dot-segment resolution of a request path (RFC 3986 §5.2.4), done before the
 * service is matched so that what is matched is what a backend that normalises
 * paths will serve.
 *
 * Model servers differ in how they read a path: some decode `%2e`, some decode
 * `%2F` and `%5C` into separators, Java servers drop `;params` from a segment.
 * A path is therefore resolved under the most eager of those readings, and
 * what is forwarded has no dot-segment left under any of them:
 *
 * - percent-encoded unreserved characters are decoded (RFC 3986 §6.2.2.2), so
 *   `%2e` and `%2E` are `.`, and `/fr%61ud` is `/fraud`;
 * - a segment is a dot-segment when it is `.` or `..` before any `;`;
 * - a segment that holds a dot-segment between encoded separators (`%2F`,
 *   `%5C`, or a raw `\`), such as `..%2fadmin`, is split on them, and the
 *   pieces are forwarded with real slashes;
 * - encoded separators in a segment with no dot-segment are kept as they are
 *   (`org%2Fmodel` is one segment to APIs that name models that way); decoded
 *   or not, such a segment cannot climb.
 */

/** What resolving a path's dot-segments leaves. */
export interface NormalisedPath {
  readonly ok: true;
  /** The resolved path: no dot-segment left. */
  readonly path: string;
  /**
   * The path as written, unreserved characters decoded and dot-segments still
   * in (split where encoded separators delimit them), to match the service the
   * client addressed.
   */
  readonly written: string;
  /** The fewest segments left after any `..` removed one; Infinity when none did. */
  readonly climbedTo: number;
}

export interface AboveRoot {
  readonly ok: false;
}

/** Characters without which a path needs no work: no dot, no percent-encoding, no backslash. */
const NEEDS_WORK = /[.%\\]/;
const PERCENT_OCTET = /%([0-9A-Fa-f]{2})/g;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
/** Separators a backend may decode inside a segment. */
const ENCODED_SEPARATOR = /%2f|%5c|\\/i;

/** Resolves the dot-segments of `path` (starting with `/`, without query); a `..` above the root is refused. */
export function normalisePath(path: string): NormalisedPath | AboveRoot {
  // Most paths: nothing to decode or resolve, nothing split or copied.
  if (!NEEDS_WORK.test(path)) return { ok: true, path, written: path, climbedTo: Infinity };
  const written = writtenSegments(path);
  const segments: string[] = [];
  let climbedTo = Infinity;
  for (let i = 0; i < written.length; i++) {
    const kind = dotKind(written[i]!);
    if (kind === null) {
      segments.push(written[i]!);
      continue;
    }
    if (kind === '..') {
      if (segments.length === 0) return { ok: false };
      segments.pop();
      climbedTo = Math.min(climbedTo, segments.length);
    }
    // A path ending in a dot-segment names a directory: `/a/b/..` is `/a/`.
    if (i === written.length - 1) segments.push('');
  }
  return { ok: true, path: `/${segments.join('/')}`, written: `/${written.join('/')}`, climbedTo };
}

/** `.` or `..` when `segment` is a dot-segment under any reading above, else null. */
export function dotKind(segment: string): '.' | '..' | null {
  const semicolon = segment.indexOf(';');
  const name = semicolon === -1 ? segment : segment.slice(0, semicolon);
  return name === '.' ? '.' : name === '..' ? '..' : null;
}

/** The path's segments with unreserved characters decoded, split on encoded separators where those delimit a dot-segment. */
function writtenSegments(path: string): string[] {
  const out: string[] = [];
  for (const raw of path.slice(1).split('/')) {
    const segment = raw.includes('%') ? decodeUnreserved(raw) : raw;
    const pieces = ENCODED_SEPARATOR.test(segment) ? segment.split(ENCODED_SEPARATOR) : [segment];
    if (pieces.length > 1 && pieces.some((piece) => dotKind(piece) !== null)) out.push(...pieces);
    else out.push(segment);
  }
  return out;
}

function decodeUnreserved(segment: string): string {
  return segment.replace(PERCENT_OCTET, (octet, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : octet;
  });
}
