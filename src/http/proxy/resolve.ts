import type { IncomingHttpHeaders } from 'node:http';
import type { Clock } from '../../app/clock.js';
import type { ServiceView } from '../../app/routing-table.js';
import type { Config, ServiceConfig } from '../../config/schema.js';
import { assign, type AssignmentReason } from '../../core/assignment.js';
import { inShadowSample } from '../../core/shadow/sample.js';
import { SwitchyardError, type ErrorCode } from '../../core/errors.js';
import { DEFAULT_FAILING_CODES, GRPC_CODES } from '../../core/grpc-status.js';
import { loadAnswerDecoders, type AnswerDecoder } from '../../grpc-proto/answer-decoder.js';
import type { TlsFeed } from '../../tls/tls-registry.js';
import { readCookie, REQUEST_ID_HEADER, singleHeader, VERSION_HEADER } from './headers.js';
import { RouteMatcher } from './route-matcher.js';
import { applyTls, buildPools, destroyPools, type Ejection, type VersionPool } from './upstream-pool.js';

const STICKY_COOKIE_MAX_AGE_S = 365 * 24 * 3600;
/** Client-sent request ids are echoed only when short and printable. */
const SAFE_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

export interface ServiceRoute {
  readonly name: string;
  readonly config: ServiceConfig;
  readonly pools: ReadonlyMap<string, VersionPool>;
  readonly versionList: string;
  /** Copies for this service's shadow in flight in this process (bounded by shadow.maxConcurrent). */
  readonly shadowGate: { inFlight: number };
  /** A gRPC service's answers read with its `grpc.proto`, for the guardrail and the shadow's prediction; null without one. */
  readonly answers: AnswerDecoder | null;
  /** A gRPC service's `grpc.failingCodes` (the defaults without a `grpc` block). */
  readonly failingCodes: ReadonlySet<number>;
}

export interface Routed {
  readonly ok: true;
  readonly route: ServiceRoute;
  readonly pool: VersionPool;
  /** Stable's pool, where a failed candidate request is replayed. */
  readonly stable: VersionPool;
  readonly reason: AssignmentReason;
  /** The sticky key the assignment used. */
  readonly key: string;
  /** A Set-Cookie value when the user had no key and got a generated one. */
  readonly setCookie: string | null;
  /** The shadow's pool when this request is one the shadow gets a copy of. */
  readonly shadow: VersionPool | null;
  /** The origin-form target to forward: the path as matched (dot-segments resolved) and the query as received. */
  readonly path: string;
  /** The authority of an absolute-form request line, which replaces Host (RFC 9112 §3.2.2); null for origin-form. */
  readonly authority: string | null;
}

export interface Refused {
  readonly ok: false;
  readonly code: ErrorCode;
  readonly detail: string;
  readonly service: string | null;
}

/**
 * What routing reads of a request: its target and headers. An HTTP/1.1
 * IncomingMessage is one; an HTTP/2 stream gives `:path` as the url and
 * `:authority` as Host.
 */
export interface RequestHead {
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** Where the resolver reads each service's rollout state and overrides: memory only, never the store. */
export interface RouteViews {
  view(service: string): ServiceView | undefined;
}

/** Decides where a request goes: match a service, read the sticky key, assign a version. */
export class Resolver {
  private readonly matcher: RouteMatcher;
  private readonly routes = new Map<string, ServiceRoute>();
  private readonly unfollowTls: () => void;

  constructor(
    services: Config['services'],
    private readonly routing: RouteViews,
    private readonly clock: Clock,
    private readonly newId: () => string,
    onEjection: (service: string, ejection: Ejection) => void,
    /** The TLS material of https:// targets, kept current across reloads. */
    tls: TlsFeed,
  ) {
    this.matcher = new RouteMatcher(services);
    // `serve` checked the files before anything started; one gone since is an error here too.
    const { decoders, problems } = loadAnswerDecoders(services);
    if (problems.length > 0) throw new SwitchyardError('SY_ERR_CONFIG', `cannot read the .proto files:\n  ${problems.join('\n  ')}`, { problems });
    for (const [name, config] of Object.entries(services)) {
      const pools = buildPools(name, config, tls.current(), (ejection) => onEjection(name, ejection));
      const answers = decoders.get(name) ?? null;
      const failingCodes = new Set(config.grpc?.failingCodes ?? DEFAULT_FAILING_CODES.map((code) => GRPC_CODES.indexOf(code)));
      this.routes.set(name, { name, config, pools, versionList: Object.keys(config.versions).join(', '), shadowGate: { inFlight: 0 }, answers, failingCodes });
    }
    this.unfollowTls = tls.onChange((bundle) => {
      for (const route of this.routes.values()) applyTls(route.name, route.pools, bundle);
    });
  }

  /** Stops following the TLS feed and closes every upstream connection. */
  close(): void {
    this.unfollowTls();
    destroyPools([...this.routes.values()].map((r) => r.pools));
  }

  now(): number {
    return this.clock.now();
  }

  requestId(req: RequestHead): string {
    const given = singleHeader(req.headers[REQUEST_ID_HEADER]);
    return given !== undefined && SAFE_REQUEST_ID.test(given) ? given : this.newId();
  }

  /** `secure`: the client reached the gateway over HTTPS (here or at a trusted hop), so a generated cookie is Secure. */
  resolve(req: RequestHead, secure: boolean): Routed | Refused {
    const located = this.matcher.locate(req.url ?? '/', req.headers.host);
    if (!located.ok) return located;
    // The matcher is built from the same services as the routes: every name it gives has one.
    const route = this.routes.get(located.service)!;
    const view = this.routing.view(route.name);
    if (view === undefined) {
      return { ok: false, code: 'SY_ERR_STORE_UNAVAILABLE', detail: `service ${route.name} has no rollout state yet`, service: route.name };
    }
    const requested = singleHeader(req.headers[VERSION_HEADER]);
    if (requested !== undefined && !route.pools.has(requested)) {
      return {
        ok: false,
        code: 'SY_ERR_UNKNOWN_VERSION',
        detail: `service ${route.name} has no version "${requested}"; valid versions: ${route.versionList}`,
        service: route.name,
      };
    }
    const { stickiness } = route.config;
    let key = stickiness.header === undefined ? undefined : singleHeader(req.headers[stickiness.header]);
    if (key === undefined || key === '') key = readCookie(req.headers.cookie, stickiness.cookie) ?? undefined;
    let setCookie: string | null = null;
    if (key === undefined) {
      key = this.newId();
      setCookie = `${stickiness.cookie}=${key}; Path=/; Max-Age=${STICKY_COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
    }
    const assignment = assign(view.state, view.overrides, key, this.clock.now(), requested ?? null);
    const stable = route.pools.get(view.state.stable);
    const pool = route.pools.get(assignment.version) ?? stable;
    if (pool === undefined || stable === undefined) {
      const detail = `rollout state of ${route.name} names version ${assignment.version}, which the config does not define`;
      return { ok: false, code: 'SY_ERR_UPSTREAM_CONNECT', detail, service: route.name };
    }
    // Only requests stable answers are mirrored (the comparison is with stable's answer), never ones pinned to a version.
    const { shadow } = view.state;
    const pinned = assignment.reason === 'header' || assignment.reason === 'override';
    const mirrored = shadow !== null && pool === stable && !pinned && inShadowSample(shadow.salt, key, shadow.sampleBp);
    const shadowPool = mirrored ? (route.pools.get(shadow.version) ?? null) : null;
    return { ok: true, route, pool, stable, reason: assignment.reason, key, setCookie, shadow: shadowPool, path: located.path, authority: located.authority };
  }
}
