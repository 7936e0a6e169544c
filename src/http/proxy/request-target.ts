/**
 * The request-target of a request line (RFC 9112 §3.2), split into what routing
 * needs. Origin-form (`/fraud/score?x`) takes its host from the Host header;
 * absolute-form (`http://host/fraud/score?x`) carries its own, which replaces
 * Host (§3.2.2), and is forwarded in origin-form.
 */
export interface RequestTarget {
  readonly ok: true;
  /** The host to match: the absolute-form authority, else the Host header. */
  readonly host: string | undefined;
  /** The authority of an absolute-form target, null for origin-form. */
  readonly authority: string | null;
  /** The path, starting with `/`, without the query. */
  readonly path: string;
  /** `?` and the query as received, or empty. */
  readonly query: string;
}

export interface BadTarget {
  readonly ok: false;
  readonly detail: string;
}

const ABSOLUTE = /^https?:\/\//i;
/** At most this much of a client's target is repeated in a refusal. */
const ECHO_CHARS = 80;

export function parseRequestTarget(url: string, hostHeader: string | undefined): RequestTarget | BadTarget {
  if (url.includes('#')) return bad(url, 'carries a fragment ("#"), which is never part of a request target');
  if (url.startsWith('/')) {
    const { path, query } = splitQuery(url);
    return { ok: true, host: hostHeader, authority: null, path, query };
  }
  const scheme = ABSOLUTE.exec(url);
  if (scheme === null) return bad(url, 'is neither origin-form ("/path") nor an absolute http(s) URI');
  const rest = url.slice(scheme[0].length);
  const end = authorityEnd(rest);
  const authority = rest.slice(0, end);
  if (authority === '') return bad(url, 'has an empty host');
  // RFC 9110 §4.2.4: user info in an http(s) URI is an error; it often hides the real host from a reader.
  if (authority.includes('@')) return bad(url, 'carries user info ("@") in its authority');
  const { path, query } = splitQuery(rest.slice(end));
  // An absolute URI without a path asks for the root (RFC 9112 §3.2.1).
  return { ok: true, host: authority, authority, path: path === '' ? '/' : path, query };
}

/** A client-sent string cut to a length fit to repeat in an error, JSON-quoted. */
export function echo(text: string): string {
  return JSON.stringify(text.length <= ECHO_CHARS ? text : `${text.slice(0, ECHO_CHARS)}…`);
}

function bad(url: string, why: string): BadTarget {
  return { ok: false, detail: `request target ${echo(url)} ${why}` };
}

function splitQuery(target: string): { path: string; query: string } {
  const at = target.indexOf('?');
  return at === -1 ? { path: target, query: '' } : { path: target.slice(0, at), query: target.slice(at) };
}

/** The authority ends at the first `/` or `?` (RFC 3986 §3.2; `#` is refused before). */
function authorityEnd(rest: string): number {
  const slash = rest.indexOf('/');
  const query = rest.indexOf('?');
  if (slash === -1) return query === -1 ? rest.length : query;
  return query === -1 ? slash : Math.min(slash, query);
}
