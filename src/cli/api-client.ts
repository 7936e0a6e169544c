import { describeConnectFailure, type TlsGiven } from './connect-errors.js';
import { CliError, EXIT } from './exit-codes.js';

/**
 * A thin client of the admin API: it only speaks HTTP to the admin URL and
 * turns problem+json answers into CliErrors with the gateway's own detail.
 */

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:8081';
const TIMEOUT_MS = 10_000;

/** What the client needs of fetch: the global fetch is one, tls-fetch.ts (a CA, a client certificate) another. */
export type Fetch = (url: string, init: { method: string; headers: Record<string, string>; body: string | null; signal: AbortSignal }) => Promise<Response>;

export interface ClientOptions {
  readonly adminUrl: string;
  readonly token: string | undefined;
  readonly fetch?: Fetch;
  readonly timeoutMs?: number;
  /** The TLS files given, for the hints of a failed connection; none by default. */
  readonly tls?: TlsGiven;
}

const NO_TLS_GIVEN: TlsGiven = { ca: null, cert: null };

export interface RequestOptions {
  readonly body?: unknown;
  readonly ifMatch?: string | undefined;
}

export type Json = Record<string, unknown>;

export class AdminClient {
  private readonly base: string;
  private readonly doFetch: Fetch;

  constructor(private readonly options: ClientOptions) {
    this.base = options.adminUrl.replace(/\/+$/, '');
    this.doFetch = options.fetch ?? fetch;
  }

  get(path: string, query: Record<string, string | undefined> = {}): Promise<Json> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, value);
    const text = params.toString();
    return this.request('GET', text === '' ? path : `${path}?${text}`);
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<Json> {
    const url = `${this.base}/api/v1${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.token !== undefined) headers['authorization'] = `Bearer ${this.options.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
    let res: Response;
    try {
      res = await this.doFetch(url, {
        method,
        headers,
        body: options.body === undefined ? null : JSON.stringify(options.body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? TIMEOUT_MS),
      });
    } catch (err) {
      throw new CliError(EXIT.unavailable, `cannot reach the gateway at ${this.base}: ${describeConnectFailure(err, this.base, this.options.tls ?? NO_TLS_GIVEN)}`);
    }
    const text = await res.text().catch(() => '');
    const body = parseJson(text);
    if (res.ok) {
      if (body === null) throw new CliError(EXIT.unavailable, `${method} ${url} answered ${res.status} without JSON; is ${this.base} a Switchyard admin port?`);
      return body;
    }
    throw new CliError(res.status >= 500 || res.status < 400 ? EXIT.unavailable : EXIT.refused, this.describeFailure(res.status, body));
  }

  private describeFailure(status: number, body: Json | null): string {
    const detail = typeof body?.['detail'] === 'string' ? body['detail'] : `the gateway answered HTTP ${status}`;
    const code = typeof body?.['code'] === 'string' ? ` (${body['code']})` : '';
    const hint = status === 401 && this.options.token === undefined ? '; pass --token or set SWITCHYARD_ADMIN_TOKEN' : '';
    return `${detail}${code}${hint}`;
  }
}

function parseJson(text: string): Json | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : null;
  } catch {
    return null;
  }
}

/** Path segments are user text (service names, override keys): always encoded. */
export function seg(text: string): string {
  return encodeURIComponent(text);
}
