import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_ANALYSIS_CONFIG, resolveAnalysisConfig, validateAnalysisConfig } from '../core/analysis/config.js';
import { DEFAULT_FAILING_CODES, GRPC_CODES, parseGrpcCode } from '../core/grpc-status.js';
import { parseFieldPath } from '../core/field-path.js';
import { DEFAULT_DRIFT_CONFIG, type DriftConfig } from '../core/shadow/drift-config.js';
import { toStep } from '../core/plan.js';
import { STRATEGIES } from '../core/rollout-state.js';
import { percentToBp } from '../core/weight.js';
import { checkPlan, durationMs, shadowPercent, stepSchema, stepsParsed } from './plan-schema.js';
import { redisSchema } from './redis-schema.js';
import { releaseWindowsSchema } from './release-windows.js';

/** `host:port`; the host may be a name, IPv4, or [IPv6]. */
const listen = (fallback: string) =>
  z
    .string()
    .prefault(fallback)
    .transform((text, ctx) => {
      const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text);
      const port = Number(match?.[2]);
      if (match === null || port > 65535) {
        ctx.addIssue({ code: 'custom', message: `not a host:port address (got "${text}")` });
        return z.NEVER;
      }
      return { host: (match[1] ?? '').replace(/^\[|\]$/g, ''), port };
    });

/** Node's timers hold at most 2^31-1 ms; longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;
const timeout = durationMs.refine((ms) => ms > 0 && ms <= MAX_TIMER_MS, { message: 'must be more than 0ms and at most 596h' });

const positiveDuration = durationMs.refine((ms) => ms > 0, { message: 'must be more than 0' });

/** Names that can sit inside a Redis hash tag and a URL path segment. */
const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, { message: 'use letters, digits, ".", "_" or "-" (at most 63), starting with a letter or digit' });

const target = z.string().transform((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: `not a URL (got "${text}")` });
    return z.NEVER;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `only http:// and https:// targets are supported (got "${text}")` });
  if (url.pathname !== '/' || url.search !== '' || url.username !== '') {
    ctx.addIssue({ code: 'custom', message: `give an origin like http://host:port or https://host:port; the request path is forwarded unchanged (got "${text}")` });
  }
  return url.origin;
});

const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
const tlsVersion = z.enum(TLS_VERSIONS, { message: 'must be TLSv1.2 or TLSv1.3' });
/** A PEM file; a relative path is read from the config file's directory. */
const pemFile = z.string().min(1, { message: 'give the path of a PEM file' });

/**
 * TLS on a listener (`proxy.tls`, `admin.tls`): its certificate and key and,
 * for mutual TLS, the CA that signs client certificates. The files are read
 * at start, on SIGHUP and when they change on disk (src/tls).
 */
const listenerTls = z
  .strictObject({
    cert: pemFile,
    key: pemFile,
    ca: pemFile.optional(),
    /** require: a connection without a certificate the CA signed is refused; optional: one is asked for, and a bad one refused. */
    clientAuth: z.enum(['require', 'optional'], { message: 'must be require or optional' }).optional(),
    minVersion: tlsVersion.default('TLSv1.2'),
  })
  .superRefine((t, ctx) => {
    if (t.clientAuth !== undefined && t.ca === undefined) ctx.addIssue({ code: 'custom', path: ['ca'], message: 'clientAuth needs ca, the CA file that signs client certificates' });
    if (t.ca !== undefined && t.clientAuth === undefined) ctx.addIssue({ code: 'custom', path: ['clientAuth'], message: 'ca only verifies client certificates: set clientAuth to require or optional' });
  }, { when: () => true });

/** A DNS name to send as SNI and to verify the target's certificate against. */
const serverName = z
  .string()
  .regex(/^(?=.{1,253}$)[a-z0-9*]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i, { message: 'not a DNS name' })
  .refine((n) => isIP(n) === 0, { message: 'an IP address is not sent as SNI: leave serverName out, the target\'s IP is verified' });

/**
 * TLS to https:// targets, set on a service (inherited by its versions) or on
 * a version (its fields win). cert and key come together, and are inherited together.
 */
const targetTls = z
  .strictObject({
    /** Extra CAs, trusted besides the system's. */
    ca: pemFile.optional(),
    serverName: serverName.optional(),
    cert: pemFile.optional(),
    key: pemFile.optional(),
    minVersion: tlsVersion.optional(),
    insecureSkipVerify: z.boolean().optional(),
  })
  .superRefine((t, ctx) => {
    if (t.cert !== undefined && t.key === undefined) ctx.addIssue({ code: 'custom', path: ['key'], message: 'cert needs key, the private key of the client certificate' });
    if (t.key !== undefined && t.cert === undefined) ctx.addIssue({ code: 'custom', path: ['cert'], message: 'key needs cert, the client certificate' });
  }, { when: () => true });

export type ListenerTlsConfig = z.output<typeof listenerTls>;
export type TargetTlsConfig = z.output<typeof targetTls>;

/** An IPv4 or IPv6 address, or a CIDR block of them. */
const cidr = z.string().refine(
  (text) => {
    const [address = '', prefix, ...rest] = text.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return false;
    if (prefix === undefined) return true;
    const bits = Number(prefix);
    return /^\d{1,3}$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
  },
  { message: 'not an IP address or CIDR block like 10.0.0.0/8 or fd00::/8' },
);

/** The configured rollout; its steps are checked by the plan's rules, which name the step and field. */
const rollout = z
  .strictObject({
    stable: z.string(),
    strategy: z.enum(STRATEGIES).default('canary'),
    steps: z.array(stepSchema).default([]),
  })
  .superRefine(checkPlan('config'), { when: stepsParsed })
  .transform((r) => ({ ...r, steps: r.steps.map(toStep) }));

/** `1MiB`, `64KiB`, `512B` or a plain number of bytes. */
const bytes = z.union([z.number().int().min(0), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const match = /^(\d+)\s*(B|KiB|MiB)$/.exec(value.trim());
  if (match === null) {
    ctx.addIssue({ code: 'custom', message: `not a size like 512B, 64KiB or 1MiB (got "${value}")` });
    return z.NEVER;
  }
  return Number(match[1]) * (match[2] === 'MiB' ? 1024 * 1024 : match[2] === 'KiB' ? 1024 : 1);
});

const httpStatus = z.number().int().min(100).max(599);

/** What the proxy does when a version cannot answer (issue: never lose a request to a release). */
const fallback = z
  .strictObject({
    /** Retry a failed candidate request once on stable when it can be replayed. */
    toStable: z.boolean().default(true),
    /** Candidate answers treated as failures besides connect errors and timeouts. */
    statuses: z.array(httpStatus).default([502, 503, 504]),
    /** Request bodies up to this size are kept so the request can be replayed on stable. */
    replayBodyBytes: bytes.prefault('1MiB'),
    /** Sent when no version can answer; otherwise a problem+json 502/503/504. */
    response: z
      .strictObject({
        status: httpStatus,
        headers: z.record(z.string(), z.string()).default({}),
        body: z.unknown(),
      })
      .optional(),
  })
  .prefault({});

const guardrail = z
  .strictObject({
    field: z.string().transform((text, ctx) => {
      const path = parseFieldPath(text);
      if (path === null) {
        ctx.addIssue({ code: 'custom', message: `not a field path like score or predictions[0].score (got "${text}")` });
        return z.NEVER;
      }
      return { text, path };
    }),
    min: z.number().default(Number.NEGATIVE_INFINITY),
    max: z.number().default(Number.POSITIVE_INFINITY),
    action: z.enum(['count', 'serve-stable', 'constant']).default('count'),
    /** Answers are buffered up to this size to be judged; larger ones stream through unjudged. */
    maxBodyBytes: bytes.prefault('256KiB'),
  })
  .superRefine((g, ctx) => {
    if (g.min > g.max) ctx.addIssue({ code: 'custom', path: ['max'], message: 'must be at least min' });
  }, { when: () => true })
  .transform((g) => ({ rule: { path: g.field.path, field: g.field.text, min: g.min, max: g.max }, action: g.action, maxBodyBytes: g.maxBodyBytes }));

/** A rate written `5%` or `0.05`, strictly between 0 and 100 %. */
const rate = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const match = typeof value === 'string' ? /^(\d+(?:\.\d+)?)\s*%$/.exec(value.trim()) : null;
  const fraction = typeof value === 'number' ? value : match === null ? Number.NaN : Number(match[1]) / 100;
  if (!Number.isFinite(fraction) || fraction <= 0 || fraction >= 1) {
    ctx.addIssue({ code: 'custom', message: `not a rate like 5% or 0.05, more than 0% and less than 100% (got ${JSON.stringify(value)})` });
    return z.NEVER;
  }
  return fraction;
});

/** How a shadow's prediction drift is judged: DriftConfig (src/core/shadow/drift-config.ts) field by field, α fixed. */
const drift = z
  .strictObject({
    maxDisagreement: rate.prefault('5%'),
    scoreTolerance: z.number().min(0, { message: 'must be at least 0' }).default(DEFAULT_DRIFT_CONFIG.scoreTolerance),
    psiTolerance: z.number().positive({ message: 'must be more than 0' }).default(DEFAULT_DRIFT_CONFIG.psiTolerance),
    action: z.enum(['flag', 'hold', 'rollback'], { message: 'must be flag, hold or rollback' }).default(DEFAULT_DRIFT_CONFIG.action),
  })
  .prefault({})
  .transform((d): DriftConfig => ({ alpha: DEFAULT_DRIFT_CONFIG.alpha, ...d }));

/** `label` or `score` read at a field path of both answers, to compare a shadow's predictions with stable's. */
const prediction = z.strictObject({
  field: z.string().transform((text, ctx) => {
    const path = parseFieldPath(text);
    if (path === null) {
      ctx.addIssue({ code: 'custom', message: `not a field path like label or predictions[0].score (got "${text}")` });
      return z.NEVER;
    }
    return { text, path };
  }),
  kind: z.enum(['label', 'score'], { message: 'must be label or score' }),
});

/**
 * The mirror path of a service: where copies go (`version`, when a standing
 * shadow is configured) and the bounds that keep copies from costing clients
 * anything. The bounds apply to any shadow, also one set through the admin API.
 */
const shadow = z
  .strictObject({
    /** A standing shadow seeded into the initial state, like `rollout`. */
    version: name.optional(),
    /** Share of sticky keys mirrored; 100 when a version is set without it. */
    percent: shadowPercent.optional(),
    /** The copy's own timeout; it never delays the client's answer. */
    timeout: timeout.prefault('2s'),
    /** Request bodies larger than this are not mirrored (counted as dropped). */
    maxBodyBytes: bytes.prefault('64KiB'),
    /** Copies in flight per process; beyond it copies are dropped and counted, never queued. */
    maxConcurrent: z.int({ message: 'must be a whole number' }).min(1, { message: 'must be at least 1' }).max(10_000, { message: 'must be at most 10000' }).default(32),
    prediction: prediction.optional(),
    drift,
  })
  .prefault({})
  .superRefine((s, ctx) => {
    if (s.percent !== undefined && s.version === undefined) {
      ctx.addIssue({ code: 'custom', path: ['percent'], message: 'only with version: the admin API and the CLI give their own percent' });
    }
  }, { when: () => true })
  .transform((s) => ({
    /** The standing shadow's version, or null. */
    version: s.version ?? null,
    sampleBp: percentToBp(s.percent ?? 100),
    timeoutMs: s.timeout,
    maxBodyBytes: s.maxBodyBytes,
    maxConcurrent: s.maxConcurrent,
    prediction: s.prediction === undefined ? null : { path: s.prediction.field.path, field: s.prediction.field.text, kind: s.prediction.kind },
    drift: s.drift,
  }));

/** Passive health: a target failing this many times in a row is ejected for a cool-down. */
const health = z
  .strictObject({
    failures: z.number().int().min(1).default(5),
    cooldown: timeout.prefault('5s'),
    maxCooldown: timeout.prefault('1m'),
  })
  .prefault({});

/**
 * A service's analysis: `enabled` (default true) and any detector threshold of
 * AnalysisConfig (src/core/analysis/config.ts) by its own name; the rest keep
 * their defaults.
 */
const serviceAnalysis = z
  .record(z.string(), z.unknown())
  .default({})
  .superRefine((section, ctx) => {
    const { enabled, ...thresholds } = section;
    if (enabled !== undefined && typeof enabled !== 'boolean') ctx.addIssue({ code: 'custom', path: ['enabled'], message: 'must be true or false' });
    for (const problem of validateAnalysisConfig({ ...DEFAULT_ANALYSIS_CONFIG, ...thresholds })) {
      const [field = '', message = problem] = problem.split(/: (.*)/s);
      ctx.addIssue({ code: 'custom', path: [field], message });
    }
  })
  .transform(({ enabled, ...thresholds }) => ({ enabled: enabled !== false, config: resolveAnalysisConfig(thresholds) }));

/** A gRPC status code by name (`UNAVAILABLE`) or number (14). */
const grpcCode = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const code = parseGrpcCode(value);
  if (code === null) {
    ctx.addIssue({ code: 'custom', message: `not a gRPC status code: give a name (${GRPC_CODES.join(', ')}) or a number 0-16 (got ${JSON.stringify(value)})` });
    return z.NEVER;
  }
  return code;
});

/** How a `protocol: grpc` service's answers are judged. */
const grpc = z.strictObject({
  /** `grpc-status` codes counted as the version's failure; the rest (OK, NOT_FOUND, INVALID_ARGUMENT...) are answers. */
  failingCodes: z.array(grpcCode).prefault([...DEFAULT_FAILING_CODES]),
  /** The service's .proto file: with it the guardrail and the shadow's prediction read fields of unary answers. */
  proto: z.string().min(1, { message: 'must not be empty' }).optional(),
});

const service = z
  .strictObject({
    /** What the version targets speak: `http` (HTTP/1.1) or `grpc` (gRPC over HTTP/2: h2c for http://, h2 for https://). */
    protocol: z.enum(['http', 'grpc'], { message: 'must be http or grpc' }).default('http'),
    grpc: grpc.optional(),
    match: z.strictObject({
      pathPrefix: z
        .string()
        .startsWith('/', { message: 'must start with "/"' })
        // Requests are matched on their normalised path without the query: such a prefix could never match.
        .refine((p) => !/[?#%\\]/.test(p) && !p.split('/').some((seg) => seg === '.' || seg === '..'), {
          message: 'must be a plain path: no "?", "#", "%", "\\" or "." / ".." segments (requests are matched on their normalised path)',
        })
        .default('/'),
      host: z.string().min(1).optional(),
    }),
    stickiness: z
      .strictObject({
        header: z.string().regex(/^[a-z0-9-]+$/i, { message: 'not an HTTP header name' }).optional(),
        cookie: z.string().regex(/^[A-Za-z0-9_-]+$/, { message: 'not a cookie name' }).default('sy_uid'),
      })
      .prefault({ cookie: 'sy_uid' }),
    versions: z
      .record(name, z.strictObject({ targets: z.array(target).min(1, { message: 'needs at least one target' }), tls: targetTls.optional() }))
      .refine((v) => Object.keys(v).length > 0, { message: 'needs at least one version' }),
    timeouts: z
      .strictObject({
        connect: timeout.prefault('2s'),
        /** From the moment the whole request was sent upstream to the response headers. */
        request: timeout.prefault('30s'),
        /** The longest gap between two chunks of a body, the client's upload or the streamed answer. */
        idle: timeout.prefault('60s'),
        /** Idle keep-alive connections to the targets are closed after this, before the servers' own idle timeouts (uvicorn: 5 s). */
        upstreamIdle: timeout.prefault('4s'),
      })
      .prefault({}),
    tls: targetTls.optional(),
    analysis: serviceAnalysis,
    fallback,
    health,
    releaseWindows: releaseWindowsSchema,
    guardrail: guardrail.optional(),
    shadow,
    rollout,
  })
  .superRefine((svc, ctx) => {
    if (svc.guardrail?.action === 'constant' && svc.fallback?.response === undefined && svc.protocol !== 'grpc') {
      ctx.addIssue({ code: 'custom', path: ['guardrail', 'action'], message: 'constant needs fallback.response, the answer to send instead' });
    }
    // A field that failed its own checks is reported already; the checks across fields skip it.
    const parsedVersions = typeof svc.versions === 'object' && svc.versions !== null;
    const versions = parsedVersions ? svc.versions : {};
    const names = Object.keys(versions).join(', ');
    const stable: unknown = svc.rollout?.stable;
    if (parsedVersions && typeof stable === 'string' && !(stable in versions)) {
      ctx.addIssue({ code: 'custom', path: ['rollout', 'stable'], message: `names no version of this service (versions: ${names})` });
    }
    const secure = (targets: readonly string[] | undefined) => Array.isArray(targets) && targets.some((t) => t.startsWith('https:'));
    for (const [version, v] of Object.entries(versions)) {
      if (v?.tls !== undefined && !secure(v.targets)) ctx.addIssue({ code: 'custom', path: ['versions', version, 'tls'], message: 'applies only to https:// targets, and this version has none' });
    }
    if (svc.tls !== undefined && !Object.values(versions).some((v) => secure(v?.targets))) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'applies only to https:// targets, and no version of this service has one' });
    }
    if (svc.protocol === 'grpc') grpcRefinements(svc, ctx);
    else if (svc.grpc !== undefined) ctx.addIssue({ code: 'custom', path: ['grpc'], message: 'applies only to protocol: grpc' });
    const standing = svc.shadow?.version ?? null;
    if (parsedVersions && standing !== null && !(standing in versions)) {
      ctx.addIssue({ code: 'custom', path: ['shadow', 'version'], message: `names no version of this service (versions: ${names})` });
    } else if (standing !== null && standing === stable) {
      ctx.addIssue({ code: 'custom', path: ['shadow', 'version'], message: 'is rollout.stable; shadowing stable compares it with itself' });
    }
    // Run even when a field inside failed, so every problem is reported at once.
  }, { when: () => true });

/**
 * What a gRPC service cannot have: the guardrail and the prediction comparison
 * read a field of the answer, which takes the service's .proto (`grpc.proto`)
 * to decode; `fallback.response` (and the guardrail's `constant`, which sends
 * it) would be a JSON body no gRPC client can read.
 */
function grpcRefinements(
  svc: { grpc?: { proto?: string | undefined } | undefined; guardrail?: { action: string } | undefined; shadow: { prediction: unknown }; fallback: { response?: unknown } },
  ctx: z.RefinementCtx,
): void {
  const needsProto = 'needs grpc.proto, the .proto file to decode the answers with (gRPC messages are protobuf)';
  const proto = svc.grpc?.proto !== undefined;
  if (svc.guardrail !== undefined && !proto) ctx.addIssue({ code: 'custom', path: ['guardrail'], message: `with protocol: grpc ${needsProto}; add it or remove the guardrail` });
  if (svc.guardrail?.action === 'constant') {
    ctx.addIssue({ code: 'custom', path: ['guardrail', 'action'], message: 'constant is not supported with protocol: grpc: it sends fallback.response, a JSON body no gRPC client can read; use count or serve-stable' });
  }
  if (svc.shadow.prediction !== null && !proto) {
    ctx.addIssue({ code: 'custom', path: ['shadow', 'prediction'], message: `with protocol: grpc ${needsProto}; without it shadows compare status and latency only` });
  }
  if (svc.fallback.response !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['fallback', 'response'], message: 'is not supported with protocol: grpc: a gRPC client gets grpc-status UNAVAILABLE naming the service, version and request id instead' });
  }
}

const token = z.strictObject({
  name: z.string().min(1),
  token: z.string().min(16, { message: 'too short: use at least 16 characters' }),
  role: z.enum(['read', 'operator']),
});

const analysis = z
  .strictObject({
    interval: timeout.prefault('5s'),
    bucket: timeout.prefault('1s'),
    flush: timeout.prefault('1s'),
    settle: durationMs.prefault('2s'),
    baseline: durationMs.prefault('10m'),
    retention: timeout.prefault('24h'),
    maxInconclusive: z.number().int().min(1).default(60),
    /** Services the lease holder judges at once in a round. */
    concurrency: z.int({ message: 'must be a whole number' }).min(1, { message: 'must be at least 1' }).max(256, { message: 'must be at most 256' }).default(16),
  })
  .prefault({})
  .superRefine((a, ctx) => {
    if (a.settle < a.flush) ctx.addIssue({ code: 'custom', path: ['settle'], message: 'must be at least the flush interval, or buckets are judged before every replica wrote them' });
    if (a.retention <= a.baseline + a.settle) ctx.addIssue({ code: 'custom', path: ['retention'], message: 'must be longer than baseline + settle, or the latency baseline expires before it is read' });
  }, { when: () => true });

const webhook = z.strictObject({
  url: z.string().regex(/^https?:\/\//, { message: 'not an http(s) URL' }),
  headers: z.record(z.string(), z.string()).default({}),
});

export const configSchema = z.strictObject({
  proxy: z
    .strictObject({
      listen: listen('0.0.0.0:8080'),
      /** On SIGTERM, /readyz fails at once and new connections are still taken this long, so load balancers notice. */
      drainDelay: durationMs.prefault('5s'),
      /** Then in-flight requests (and open streams) get this long to finish before they are cut. */
      drainTimeout: durationMs.prefault('30s'),
      /** One JSON log line per proxied request (request id, service, version, status, duration). */
      accessLog: z.boolean().default(false),
      /**
       * How long an idle client connection is kept open. Longer than the idle timeout of
       * the load balancer in front (60 s on most), so the balancer, never the gateway,
       * closes an idle connection and no request races a close.
       */
      keepAliveTimeout: positiveDuration.prefault('65s'),
      /** Processes serving the proxy port (node:cluster); `serve --workers` overrides it. */
      workers: z.int({ message: 'must be a whole number' }).min(1, { message: 'must be at least 1' }).max(64, { message: 'must be at most 64' }).default(1),
      /** Proxy workers that must be alive for /readyz; absent: half of the workers, rounded up. */
      readyWorkers: z.int({ message: 'must be a whole number' }).min(1, { message: 'must be at least 1' }).max(64, { message: 'must be at most 64' }).optional(),
      /** Serve the proxy port over TLS (HTTPS); the sticky cookie is then Secure. */
      tls: listenerTls.optional(),
      /**
       * Hops (addresses or CIDR blocks) whose X-Forwarded-Proto is believed: a load balancer
       * that ends TLS in front. From any other client the gateway sets it to its own scheme.
       */
      trustedProxies: z.array(cidr).default([]),
    })
    .prefault({}),
  admin: z
    .strictObject({ listen: listen('127.0.0.1:8081'), tokens: z.array(token).default([]), tls: listenerTls.optional() })
    .prefault({ listen: '127.0.0.1:8081', tokens: [] }),
  store: z.strictObject({ redis: redisSchema.optional() }).prefault({}),
  /**
   * The last-known-good copy of the rollout state and overrides each replica keeps on disk, so one
   * that starts while Redis is unreachable serves what it last knew. Used only with store.redis.
   */
  snapshot: z
    .strictObject({
      enabled: z.boolean().default(true),
      dir: z.string().min(1, { message: 'must not be empty' }).default(join(tmpdir(), 'switchyard')),
    })
    .prefault({}),
  analysis,
  overrides: z
    .strictObject({ defaultTtl: positiveDuration.prefault('7d'), maxTtl: positiveDuration.prefault('30d') })
    .prefault({})
    .superRefine((o, ctx) => {
      if (o.defaultTtl > o.maxTtl) ctx.addIssue({ code: 'custom', path: ['defaultTtl'], message: 'must not exceed maxTtl' });
    }, { when: () => true }),
  notifications: z.strictObject({ webhooks: z.array(webhook).default([]) }).prefault({}),
  log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({ level: 'info' }),
  services: z.record(name, service).refine((s) => Object.keys(s).length > 0, { message: 'needs at least one service' }),
});

export type Config = z.output<typeof configSchema>;
export type ServiceConfig = Config['services'][string];
export type RedisConfig = NonNullable<Config['store']['redis']>;
