import { z } from 'zod';
import type { AssignmentReason } from '../../core/assignment.js';
import type { AuditAction } from '../../core/audit.js';
import { ERRORS } from '../../core/errors.js';
import { PHASES, STRATEGIES, type Hold, type VerdictResult } from '../../core/rollout-state.js';
import { packageVersion } from '../../version.js';
import { PROBLEM_TYPE } from '../problem.js';
import { BODY_LIMIT_BYTES } from './body.js';
import { DEFAULT_SERIES_MINUTES, DEFAULT_SERIES_STEP_S, MAX_SERIES_MINUTES, seriesQuery } from './routes-series.js';
import {
  assignmentQuery,
  auditQuery,
  DEFAULT_AUDIT_LIMIT,
  MAX_AUDIT_LIMIT,
  overrideBody,
  reasonBody,
  rollbackBody,
  shadowBody,
  startBody,
  weightBody,
} from './schemas.js';

/**
 * The OpenAPI 3.1 document of the admin API. Request bodies and query
 * parameters are generated from the zod schemas the routes validate with, so
 * they cannot drift; response shapes are written here by hand, next to one
 * another, after present.ts. test/integration/openapi.test.ts checks that every
 * route of the app is documented and every documented operation exists.
 */

type Json = Record<string, unknown>;

export interface OpenApiDocument {
  readonly openapi: string;
  readonly info: Json;
  readonly servers: readonly Json[];
  readonly tags: readonly Json[];
  readonly security: readonly Json[];
  readonly paths: Record<string, Record<string, Json>>;
  readonly components: Json;
}

const ref = (kind: 'schemas' | 'responses' | 'parameters' | 'headers', name: string): Json => ({ $ref: `#/components/${kind}/${name}` });
const schemaRef = (name: string): Json => ref('schemas', name);
const nullable = (schema: Json): Json => ({ oneOf: [schema, { type: 'null' }] });
const nullableType = (type: string, extra: Json = {}): Json => ({ type: [type, 'null'], ...extra });
const dateTime: Json = { type: 'string', format: 'date-time' };
const object = (properties: Record<string, Json>, optional: readonly string[] = [], extra: Json = {}): Json => ({
  type: 'object',
  properties,
  required: Object.keys(properties).filter((key) => !optional.includes(key)),
  ...extra,
});

// ---------------------------------------------------------------- from zod

const DURATION_TEXT = 'A duration like 500ms, 30s, 5m, 1h or 7d.';
const PERCENT_TEXT = 'Percent 0..100 with at most two decimals.';

/** A zod schema as JSON Schema 2020-12 (what OpenAPI 3.1 uses), seen from the request side. */
function fromZod(schema: z.ZodType): Json {
  const json = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Json;
  delete json['$schema'];
  return json;
}

/** Adds keywords zod cannot express (refinements, transforms) to named properties. */
function annotate(schema: Json, extras: Record<string, Json>): Json {
  const properties = schema['properties'] as Record<string, Json> | undefined;
  for (const [name, extra] of Object.entries(extras)) {
    const property = properties?.[name];
    if (property === undefined) throw new Error(`openapi: the schema has no property ${name} to annotate`);
    Object.assign(property, extra);
  }
  return schema;
}

const weightExtra: Json = { minimum: 0, maximum: 100, description: PERCENT_TEXT };
const SHADOW_PERCENT_TEXT = 'Percent more than 0, at most 100, with at most two decimals.';
const shadowExtra: Json = { exclusiveMinimum: 0, maximum: 100, description: SHADOW_PERCENT_TEXT };
const reasonExtra: Json = { description: 'Why; written to the audit log.' };
const forceExtra: Json = { description: 'Release outside the release windows; needs a reason.' };

function startSchema(): Json {
  const schema = annotate(fromZod(startBody), {
    candidate: { description: 'A version of the service, from the configuration.' },
    strategy: { description: "Defaults to the service's configured strategy." },
    steps: { description: "Canary steps; defaults to the service's configured steps. Weights must not decrease." },
    weight: {
      ...weightExtra,
      description:
        `Start a manual canary at this weight: no steps, operators move it, the analysis may roll it back but never advances it. ` +
        `Refused (400) with steps or for blue-green. Without it, a canary with no steps in the command or the config is a manual canary at 0. ${PERCENT_TEXT}`,
    },
    salt: { description: 'Bucketing salt: which users fall below the weight. Defaults to `<service>:<candidate>`, so restarting a rollout of the same candidate keeps each user where they were; give another to draw a new set of users.' },
    reason: reasonExtra,
    force: forceExtra,
  });
  const step = (schema['properties'] as Record<string, Json>)['steps']?.['items'] as Json | undefined;
  if (step === undefined) throw new Error('openapi: startBody.steps has no items');
  annotate(step, {
    weight: { ...weightExtra, description: `The candidate's live traffic on this step. ${PERCENT_TEXT}` },
    shadow: { ...shadowExtra, description: `A shadow step instead: the share of sticky keys mirrored to the candidate, which gets no live traffic. Only before the first weighted step. ${SHADOW_PERCENT_TEXT}` },
    bake: { description: `How long the step bakes. ${DURATION_TEXT}` },
  });
  return schema;
}

/** A zod query schema as OpenAPI query parameters. */
function queryParameters(schema: z.ZodType, descriptions: Record<string, string>): Json[] {
  const json = fromZod(schema);
  const properties = (json['properties'] ?? {}) as Record<string, Json>;
  const required = new Set((json['required'] ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: required.has(name),
    ...(descriptions[name] === undefined ? {} : { description: descriptions[name] }),
    schema: property,
  }));
}

// ---------------------------------------------------------------- responses by hand

/** Exhaustive by type: adding an action, reason or result to the core fails compilation here. */
const AUDIT_ACTIONS: Record<AuditAction, true> = {
  init: true,
  start: true,
  'set-weight': true,
  pause: true,
  resume: true,
  promote: true,
  advance: true,
  rollback: true,
  switch: true,
  shadow: true,
  'shadow-stop': true,
  'override-put': true,
  'override-delete': true,
};
const ASSIGNMENT_REASONS: Record<AssignmentReason, true> = { header: true, override: true, bucket: true, stable: true };
const VERDICT_RESULTS: Record<VerdictResult, true> = { pass: true, fail: true, inconclusive: true };
const HOLD_KINDS: Record<Hold['kind'], true> = { 'sample-ratio': true, 'shadow-drift': true };

const staleness: Record<string, Json> = {
  stale: { type: 'boolean', description: "True when the store could not be read and this is the replica's last known state." },
  staleReason: { type: 'string', description: 'Why the store could not be read; only when stale.' },
};

function responseSchemas(): Record<string, Json> {
  const verdictResult: Json = { type: 'string', enum: Object.keys(VERDICT_RESULTS) };
  return {
    Step: object(
      {
        weight: { type: 'number', ...weightExtra, description: 'The candidate\'s weight on this step; 0 on a shadow step.' },
        bakeMs: { type: 'integer', minimum: 0 },
        shadow: { type: 'number', ...shadowExtra, description: 'Only on a shadow step: the share of sticky keys mirrored to the candidate.' },
      },
      ['shadow'],
    ),
    Shadow: object({
      version: { type: 'string', description: 'Receives copies of live requests; its answers are never returned to clients.' },
      percent: { type: 'number', ...shadowExtra, description: 'Share of sticky keys mirrored.' },
      sampleBp: { type: 'integer', minimum: 1, maximum: 10_000, description: 'The same share in basis points.' },
      salt: { type: 'string', description: 'The sample\'s own salt, not the routing salt: `<service>:shadow`.' },
      since: { ...dateTime, description: 'When this version started being shadowed.' },
    }),
    ShadowDrift: object({
      flagged: { type: 'boolean', description: 'Drift beyond the tolerance; holds a shadow step.' },
      rollback: { type: 'boolean', description: 'Drift with the rollback action configured.' },
      reason: { type: 'string' },
      figures: { type: 'object', additionalProperties: { type: 'number' } },
    }),
    ShadowVerdict: object({
      version: { type: 'string' },
      result: verdictResult,
      reason: { type: 'string' },
      checks: { type: 'array', items: schemaRef('VerdictCheck') },
      figures: { type: 'object', additionalProperties: { type: 'number' } },
      drift: nullable(schemaRef('ShadowDrift')),
    }),
    VerdictCheck: object({
      name: { type: 'string', description: 'What the check measures; the set of checks may change between releases, match on structure.' },
      value: nullableType('number', { description: 'The figure judged; null when there is no data for it yet.' }),
      threshold: { type: 'number', description: 'What the value is judged against.' },
      result: verdictResult,
      detail: { type: 'string', description: 'The figures behind the value: counts, rates, where the threshold comes from.' },
      meaning: { type: 'string', description: 'What the check says, in plain words for the person on call; empty in checks stored before it existed.' },
    }),
    Hold: object({
      kind: { type: 'string', enum: Object.keys(HOLD_KINDS), description: '`sample-ratio`: the candidate\'s share of requests does not match its weight; `shadow-drift`: a shadow step\'s predictions drift.' },
      reason: { type: 'string' },
      since: { ...dateTime, description: 'The first round that held the rollout.' },
    }),
    Verdict: object({
      result: verdictResult,
      reason: { type: 'string' },
      at: dateTime,
      startedAt: nullableType('string', { format: 'date-time', description: 'The start of the rollout this verdict judged; null for a shadow judged while no rollout runs.' }),
      hold: { type: 'boolean', description: 'Progression held without failing (a sample-ratio mismatch).' },
      held: nullable({ ...schemaRef('Hold'), description: 'What holds the rollout, set by the analysis loop; null when nothing does.' }),
      checks: { type: 'array', items: schemaRef('VerdictCheck') },
      figures: { type: 'object', additionalProperties: { type: 'number' } },
      shadow: nullable({ ...schemaRef('ShadowVerdict'), description: "The shadow's verdict of the same round, judged against stable's answers to the same requests." }),
    }),
    State: object(
      {
        service: { type: 'string' },
        stable: { type: 'string' },
        candidate: nullableType('string', { description: 'Kept after a rollback, so the record shows what was rolled back.' }),
        previous: nullableType('string', { description: 'The colour that served before the last promotion.' }),
        strategy: { type: 'string', enum: [...STRATEGIES] },
        weight: { type: 'number', ...weightExtra, description: "The candidate's weight in percent." },
        weightBp: { type: 'integer', minimum: 0, maximum: 10_000, description: "The candidate's weight in basis points." },
        phase: { type: 'string', enum: [...PHASES] },
        step: { type: 'integer', minimum: 0 },
        steps: { type: 'array', items: schemaRef('Step') },
        manual: { type: 'boolean', description: 'A canary in progress without steps: operators move it; the analysis may roll it back, never advance it.' },
        salt: { type: 'string' },
        revision: { type: 'integer', minimum: 0, description: 'Also sent as the ETag; send it back in If-Match.' },
        updatedAt: dateTime,
        startedAt: nullableType('string', { format: 'date-time' }),
        stepStartedAt: nullableType('string', { format: 'date-time' }),
        reason: nullableType('string'),
        lastVerdict: nullable(schemaRef('Verdict')),
        shadow: nullable(schemaRef('Shadow')),
        ...staleness,
      },
      ['staleReason'],
    ),
    Override: object({
      service: { type: 'string' },
      key: { type: 'string' },
      version: { type: 'string' },
      reason: { type: 'string' },
      author: { type: 'string' },
      createdAt: dateTime,
      expiresAt: dateTime,
      expiresInMs: { type: 'integer', minimum: 0 },
    }),
    AuditEntry: object({
      id: { type: 'string', pattern: '^\\d+-\\d+$', description: '<ms>-<seq>; pass as `before` to page.' },
      service: { type: 'string' },
      actor: { type: 'string', description: 'The token name, or the analysis loop / alert that acted.' },
      action: { type: 'string', enum: Object.keys(AUDIT_ACTIONS) },
      reason: nullableType('string'),
      at: dateTime,
      before: { oneOf: [schemaRef('State'), schemaRef('Override'), { type: 'null' }] },
      after: { oneOf: [schemaRef('State'), schemaRef('Override'), { type: 'null' }] },
      rule: nullableType('string', { description: 'The rule between operators and the analysis that this change applied, in words; null when none did.' }),
      verdict: nullable({ ...schemaRef('Verdict'), description: 'The analysis verdict behind a change the analysis made; null otherwise.' }),
    }),
    Assignment: object(
      {
        service: { type: 'string' },
        key: { type: 'string' },
        version: { type: 'string', description: 'The version this key is routed to.' },
        reason: { type: 'string', enum: Object.keys(ASSIGNMENT_REASONS) },
        explanation: { type: 'string' },
        bucket: nullableType('integer', { minimum: 0, maximum: 9_999, description: 'Null while no candidate is out.' }),
        weight: { type: 'number', ...weightExtra },
        weightBp: { type: 'integer', minimum: 0, maximum: 10_000 },
        salt: { type: 'string' },
        override: nullable(schemaRef('Override')),
        requested: nullableType('string'),
        stable: { type: 'string' },
        candidate: nullableType('string'),
        phase: { type: 'string', enum: [...PHASES] },
        revision: { type: 'integer', minimum: 0 },
        ...staleness,
      },
      ['staleReason'],
    ),
    ServiceList: object({ services: { type: 'array', items: schemaRef('State') } }),
    OverrideList: object({ overrides: { type: 'array', items: schemaRef('Override') } }),
    OverrideRemoved: object({ removed: schemaRef('Override') }),
    AuditPage: object({
      entries: { type: 'array', items: schemaRef('AuditEntry') },
      next: nullableType('string', { description: 'The id to pass as `before` for the next page; null on the last page.' }),
    }),
    AlertmanagerWebhook: object(
      {
        version: { const: '4' },
        status: { type: 'string', enum: ['firing', 'resolved'] },
        alerts: {
          type: 'array',
          items: object(
            {
              status: { type: 'string', enum: ['firing', 'resolved'] },
              labels: {
                type: 'object',
                additionalProperties: { type: 'string' },
                description: '`service` names the service to roll back; `version`, when set, must be its candidate.',
              },
              annotations: { type: 'object', additionalProperties: { type: 'string' } },
            },
            ['annotations'],
            { additionalProperties: true },
          ),
        },
      },
      [],
      { additionalProperties: true, description: "Alertmanager's webhook payload, version 4; other fields are ignored." },
    ),
    AlertResults: object({
      results: {
        type: 'array',
        items: object({
          alert: { type: 'string' },
          service: nullableType('string'),
          outcome: { type: 'string', enum: ['rolled_back', 'ignored', 'unknown_service', 'refused', 'error'] },
          detail: { type: 'string' },
        }),
      },
    }),
    VersionSeries: object({
      rate: { type: 'array', items: { type: 'number' }, description: 'Requests per second in each point.' },
      errorRatio: { type: 'array', items: nullableType('number'), description: 'Errors / requests; null where the version had no requests.' },
      p99Ms: { type: 'array', items: nullableType('number'), description: 'p99 latency in ms; null where the version had no requests.' },
      requests: { type: 'array', items: { type: 'integer', minimum: 0 } },
      errors: { type: 'array', items: { type: 'integer', minimum: 0 } },
    }),
    Series: object({
      service: { type: 'string' },
      stepMs: { type: 'integer', minimum: 1 },
      from: dateTime,
      to: dateTime,
      times: { type: 'array', items: { type: 'integer' }, description: 'Start of each point, in seconds since the epoch.' },
      versions: {
        type: 'object',
        additionalProperties: schemaRef('VersionSeries'),
        description: "By version: the stable, the candidate, and a shadow as `shadow:<version>` (its answers to the copies, never seen by clients).",
      },
      comparisons: {
        type: 'object',
        additionalProperties: object({
          pairs: { type: 'array', items: { type: 'integer', minimum: 0 }, description: 'Mirrored pairs whose predictions were compared.' },
          disagreementRatio: { type: 'array', items: nullableType('number'), description: "Share of pairs where the shadow's prediction disagreed with stable's; null where none were compared." },
        }),
        description: 'By shadow version: the comparison of its predictions with stable’s, where a prediction field is configured.',
      },
    }),
    Health: object({ status: { const: 'ok' }, version: { type: 'string', description: 'The Switchyard release that answers, as in its package.json.' } }),
    Readiness: object(
      {
        ready: { type: 'boolean' },
        store: { type: 'string', enum: ['up', 'down'] },
        workers: object(
          { alive: { type: 'integer', description: 'Proxy workers listening now.' }, needed: { type: 'integer', description: 'Workers that must listen for readiness (proxy.readyWorkers).' } },
          [],
          { description: 'Only with `serve --workers N`.' },
        ),
        problems: { type: 'array', items: { type: 'string' }, description: 'Why the replica is not ready (503): not listening, too few workers, draining, routing on the config\'s initial rollout, or state of a newer release.' },
        warnings: {
          type: 'array',
          items: { type: 'string' },
          description: 'What holds while it stays ready: the store is unreachable or not read yet, and it routes on the last state it knew (fail-static).',
        },
      },
      ['workers', 'problems', 'warnings'],
    ),
    Problem: object(
      {
        type: { type: 'string', format: 'uri' },
        title: { type: 'string' },
        status: { type: 'integer' },
        code: { type: 'string', enum: Object.keys(ERRORS), description: 'Stable; match on this, not on the text.' },
        detail: { type: 'string', description: 'What went wrong, for the operator.' },
        errors: {
          type: 'array',
          description: 'Validation problems, one per field.',
          items: object({ field: { type: 'string' }, message: { type: 'string' } }),
        },
      },
      ['errors'],
      { additionalProperties: true, description: 'RFC 9457 problem details with a Switchyard code.' },
    ),
  };
}

// ---------------------------------------------------------------- operations

type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 503;

interface ErrorResponse {
  readonly name: string;
  readonly description: string;
  readonly headers?: Record<string, Json>;
}

const ERROR_RESPONSES: Record<ErrorStatus, ErrorResponse> = {
  400: { name: 'BadRequest', description: 'Invalid request: `errors` lists every field problem.' },
  401: { name: 'Unauthorized', description: 'Missing or unknown bearer token.', headers: { 'WWW-Authenticate': ref('headers', 'WWW-Authenticate') } },
  403: {
    name: 'Forbidden',
    description: 'The token has the read role; writes need operator (`SY_ERR_FORBIDDEN`). Or, as on every path, the client certificate did not verify against `admin.tls.ca` (`SY_ERR_CLIENT_CERT`).',
  },
  404: { name: 'NotFound', description: 'Unknown service, override or route.' },
  409: { name: 'Conflict', description: 'Stale If-Match revision, a command not allowed in this phase, or outside the release windows.' },
  413: { name: 'PayloadTooLarge', description: 'The body is over the limit.' },
  503: { name: 'ServiceUnavailable', description: 'The store is unreachable.', headers: { 'Retry-After': ref('headers', 'Retry-After') } },
};

/**
 * With `admin.tls.clientAuth: optional`, a request whose client certificate did
 * not verify is refused on every path, probes included (auth.ts).
 */
const CLIENT_CERT_RESPONSE: ErrorResponse = {
  name: 'ClientCertificateRefused',
  description: 'The client certificate did not verify against `admin.tls.ca` (`SY_ERR_CLIENT_CERT`); send one that CA signed, or none.',
};

interface Operation {
  readonly id: string;
  /** The body may be left out (a DELETE with an optional reason). */
  readonly bodyOptional?: boolean;
  readonly summary: string;
  readonly description?: string;
  readonly tag: string;
  /** `none` for probes and documentation; otherwise the role the bearer token needs. */
  readonly access: 'none' | 'read' | 'operator';
  readonly parameters?: readonly Json[];
  readonly body?: Json;
  readonly ok: Json;
  readonly errors?: readonly ErrorStatus[];
  /** Responses beside the problem ones, e.g. /readyz's 503. */
  readonly extra?: Record<string, Json>;
}

const json = (schema: Json, description: string, headers?: Record<string, Json>): Json => ({
  description,
  ...(headers === undefined ? {} : { headers }),
  content: { 'application/json': { schema } },
});

function operation(op: Operation): Json {
  const responses: Record<string, Json> = { '200': op.ok, ...op.extra };
  const errors = new Set<ErrorStatus>(op.errors ?? []);
  if (op.access !== 'none') errors.add(401);
  errors.add(403);
  for (const status of [...errors].sort((a, b) => a - b)) {
    if (responses[String(status)] !== undefined) continue;
    const name = status === 403 && op.access !== 'operator' ? CLIENT_CERT_RESPONSE.name : ERROR_RESPONSES[status].name;
    responses[String(status)] = ref('responses', name);
  }
  const role = op.access === 'none' ? 'No token.' : op.access === 'read' ? 'Token role: read or operator.' : 'Token role: operator.';
  return {
    operationId: op.id,
    summary: op.summary,
    description: op.description === undefined ? role : `${op.description}\n\n${role}`,
    tags: [op.tag],
    ...(op.access === 'none' ? { security: [] } : {}),
    ...(op.parameters === undefined ? {} : { parameters: op.parameters }),
    ...(op.body === undefined ? {} : { requestBody: { required: op.bodyOptional !== true, content: { 'application/json': { schema: op.body } } } }),
    responses,
  };
}

const WRITE_ERRORS: readonly ErrorStatus[] = [400, 404, 413, 503];
const COMMAND_ERRORS: readonly ErrorStatus[] = [400, 404, 409, 413, 503];
const service = ref('parameters', 'service');
const key = ref('parameters', 'key');
const ifMatch = ref('parameters', 'If-Match');
const stateOk = json(schemaRef('State'), 'The state after the command.', { ETag: ref('headers', 'ETag') });

function commandOperation(name: string, summary: string, body: string, description?: string): Json {
  return operation({
    id: `${name}Rollout`,
    summary,
    tag: 'rollouts',
    access: 'operator',
    parameters: [service, ifMatch],
    body: schemaRef(body),
    ok: stateOk,
    errors: COMMAND_ERRORS,
    ...(description === undefined ? {} : { description }),
  });
}

function paths(): Record<string, Record<string, Json>> {
  const base = '/api/v1/services/{service}';
  return {
    '/': {
      get: operation({
        id: 'console',
        summary: 'The web console',
        description: 'An HTML page (with its script, stylesheet and chart library beside it); it asks for the token and sends it on every API call.',
        tag: 'meta',
        access: 'none',
        ok: { description: 'The console page.', content: { 'text/html': { schema: { type: 'string' } } } },
      }),
    },
    '/healthz': {
      get: operation({ id: 'health', summary: 'Liveness', tag: 'probes', access: 'none', ok: json(schemaRef('Health'), 'The process is up.') }),
    },
    '/readyz': {
      get: operation({
        id: 'ready',
        summary: 'Readiness',
        tag: 'probes',
        access: 'none',
        ok: json(schemaRef('Readiness'), 'Ready.'),
        extra: { '503': json(schemaRef('Readiness'), 'Not ready; `problems` says why (the store is down, for one).') },
      }),
    },
    '/metrics': {
      get: operation({
        id: 'metrics',
        summary: 'Prometheus exposition',
        tag: 'probes',
        access: 'none',
        ok: { description: 'Metrics in the Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' } } } },
      }),
    },
    '/api/v1/openapi.json': {
      get: operation({
        id: 'openapi',
        summary: 'This document',
        tag: 'meta',
        access: 'none',
        ok: json({ type: 'object' }, 'The OpenAPI 3.1 document of the admin API.'),
      }),
    },
    '/api/v1/services': {
      get: operation({ id: 'listServices', summary: 'Every service with its state', tag: 'services', access: 'read', ok: json(schemaRef('ServiceList'), 'Every configured service.'), errors: [503] }),
    },
    [base]: {
      get: operation({
        id: 'getService',
        summary: 'One service',
        description: 'The ETag is the revision, unless the answer is stale.',
        tag: 'services',
        access: 'read',
        parameters: [service],
        ok: json(schemaRef('State'), 'The state.', { ETag: ref('headers', 'ETag') }),
        errors: [404, 503],
      }),
    },
    [`${base}/assignment`]: {
      get: operation({
        id: 'explainAssignment',
        summary: 'Which version a key gets, and why',
        tag: 'services',
        access: 'read',
        parameters: [
          service,
          ...queryParameters(assignmentQuery, { key: 'The stickiness key (a user id, say).', version: 'A version the caller asks for, as the proxy header would.' }),
        ],
        ok: json(schemaRef('Assignment'), 'The assignment.'),
        errors: [400, 404, 503],
      }),
    },
    [`${base}/series`]: {
      get: operation({
        id: 'readSeries',
        summary: "The console's charts: rate, error ratio and p99 per version",
        tag: 'services',
        access: 'read',
        parameters: [
          service,
          ...queryParameters(seriesQuery, {
            minutes: `How far back, 1..${MAX_SERIES_MINUTES} minutes (default ${DEFAULT_SERIES_MINUTES}).`,
            step: `Seconds per point, 1..60 (default ${DEFAULT_SERIES_STEP_S}).`,
          }),
        ],
        ok: json(schemaRef('Series'), 'The series.'),
        errors: [400, 404, 503],
      }),
    },
    [`${base}/rollout`]: { post: commandOperation('start', 'Start a rollout', 'StartRollout') },
    [`${base}/weight`]: { post: commandOperation('setWeight', "Set the candidate's weight", 'SetWeight') },
    [`${base}/pause`]: { post: commandOperation('pause', 'Pause the rollout', 'ReasonBody') },
    [`${base}/resume`]: { post: commandOperation('resume', 'Resume the rollout', 'ReasonBody') },
    [`${base}/promote`]: { post: commandOperation('promote', 'Promote the candidate', 'ReasonBody') },
    [`${base}/switch`]: { post: commandOperation('switch', 'Switch blue-green colours', 'ReasonBody') },
    [`${base}/rollback`]: { post: commandOperation('rollback', 'Roll back to stable', 'RollbackBody') },
    [`${base}/shadow`]: {
      put: operation({
        id: 'setShadow',
        summary: 'Mirror live traffic to a version (set or replace the shadow)',
        description:
          'Copies of the requests of `percent` of sticky keys (hashed with the shadow\'s own salt) go to `version`; its answers are compared with ' +
          "stable's and never returned. Not stable, and not a candidate that already has live traffic. A new percent for the same version keeps `since`.",
        tag: 'rollouts',
        access: 'operator',
        parameters: [service, ifMatch],
        body: schemaRef('SetShadow'),
        ok: stateOk,
        errors: COMMAND_ERRORS,
      }),
      delete: operation({
        id: 'stopShadow',
        summary: 'Stop mirroring traffic',
        description: 'The body (an optional reason) may be left out. 404 when the service has no shadow.',
        tag: 'rollouts',
        access: 'operator',
        parameters: [service, ifMatch],
        body: schemaRef('ReasonBody'),
        bodyOptional: true,
        ok: stateOk,
        errors: COMMAND_ERRORS,
      }),
    },
    [`${base}/overrides`]: {
      get: operation({
        id: 'listOverrides',
        summary: 'Overrides with the time they have left',
        tag: 'overrides',
        access: 'read',
        parameters: [service],
        ok: json(schemaRef('OverrideList'), 'Live overrides, soonest to expire first.'),
        errors: [404, 503],
      }),
    },
    [`${base}/overrides/{key}`]: {
      put: operation({
        id: 'putOverride',
        summary: 'Pin a key to a version',
        tag: 'overrides',
        access: 'operator',
        parameters: [service, key],
        body: schemaRef('PutOverride'),
        ok: json(schemaRef('Override'), 'The override.'),
        errors: WRITE_ERRORS,
      }),
      delete: operation({
        id: 'deleteOverride',
        summary: 'Unpin a key',
        tag: 'overrides',
        access: 'operator',
        parameters: [service, key],
        ok: json(schemaRef('OverrideRemoved'), 'The override that was removed.'),
        errors: WRITE_ERRORS,
      }),
    },
    '/api/v1/audit': {
      get: operation({
        id: 'readAudit',
        summary: 'The audit log, newest first',
        tag: 'audit',
        access: 'read',
        parameters: queryParameters(auditQuery, {
          service: 'Only this service.',
          limit: `Entries per page, 1..${MAX_AUDIT_LIMIT} (default ${DEFAULT_AUDIT_LIMIT}).`,
          before: "Entries older than this id: the previous page's `next`.",
        }),
        ok: json(schemaRef('AuditPage'), 'One page.'),
        errors: [400, 404, 503],
      }),
    },
    '/api/v1/alerts/alertmanager': {
      post: operation({
        id: 'alertmanagerWebhook',
        summary: 'Alertmanager webhook: roll back firing services',
        description:
          'A firing alert labelled `service` rolls that service back with the alert name as the reason. ' +
          'Each alert has its outcome in the answer; a 503 (with the same body) asks Alertmanager to retry, which is safe.',
        tag: 'alerts',
        access: 'operator',
        body: schemaRef('AlertmanagerWebhook'),
        ok: json(schemaRef('AlertResults'), 'The outcome of each alert.'),
        errors: [400, 413],
        extra: {
          '503': {
            description: 'An alert could not be handled (its outcome is `error`); Alertmanager retries.',
            headers: { 'Retry-After': ref('headers', 'Retry-After') },
            content: { 'application/json': { schema: schemaRef('AlertResults') }, [PROBLEM_TYPE]: { schema: schemaRef('Problem') } },
          },
        },
      }),
    },
  };
}

// ---------------------------------------------------------------- document

function components(): Json {
  const responses = Object.fromEntries(
    [...Object.values(ERROR_RESPONSES), CLIENT_CERT_RESPONSE].map(({ name, description, headers }) => [
      name,
      { description, ...(headers === undefined ? {} : { headers }), content: { [PROBLEM_TYPE]: { schema: schemaRef('Problem') } } },
    ]),
  );
  return {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'A token from `admin.tokens` in the config; reads need `read` or `operator`, writes `operator`.' },
    },
    parameters: {
      service: { name: 'service', in: 'path', required: true, description: 'A service name from the config.', schema: { type: 'string' } },
      key: {
        name: 'key',
        in: 'path',
        required: true,
        description: 'The stickiness key, percent-encoded (`a%2Fb` is `a/b`).',
        schema: { type: 'string', minLength: 1, maxLength: 256 },
      },
      'If-Match': {
        name: 'If-Match',
        in: 'header',
        required: false,
        description: 'Apply only at this revision (`12` or `"12"`, the ETag); `*` or none skips the check. A stale one gets 409.',
        schema: { type: 'string', pattern: '^(\\*|"\\d{1,15}"|\\d{1,15})$' },
      },
    },
    headers: {
      ETag: { description: 'The revision, quoted; send it back in If-Match.', schema: { type: 'string' } },
      'WWW-Authenticate': { description: 'The bearer challenge.', schema: { type: 'string' } },
      'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } },
    },
    responses,
    schemas: {
      StartRollout: startSchema(),
      SetWeight: annotate(fromZod(weightBody), { weight: weightExtra, reason: reasonExtra, force: forceExtra }),
      ReasonBody: annotate(fromZod(reasonBody), { reason: reasonExtra, force: forceExtra }),
      RollbackBody: annotate(fromZod(rollbackBody), { reason: reasonExtra, force: forceExtra }),
      SetShadow: annotate(fromZod(shadowBody), {
        version: { description: 'A version of the service other than stable.' },
        percent: { ...shadowExtra, description: `Share of sticky keys whose requests are mirrored. ${SHADOW_PERCENT_TEXT}` },
        reason: reasonExtra,
        force: { description: 'Accepted for symmetry; a shadow never waits for a release window.' },
      }),
      PutOverride: annotate(fromZod(overrideBody), {
        reason: reasonExtra,
        ttl: { description: `How long the pin lasts; the config's override policy sets the default and the cap. ${DURATION_TEXT}` },
      }),
      ...responseSchemas(),
    },
  };
}

export function buildOpenApiDocument(): OpenApiDocument {
  return {
    openapi: '3.1.1',
    info: {
      title: 'Switchyard admin API',
      version: packageVersion(),
      description:
        'Releases ML model versions behind the Switchyard gateway: canaries, blue-green switches, overrides, rollbacks. ' +
        `Every /api/v1 call needs \`Authorization: Bearer TOKEN\` except this document; write bodies are JSON up to ${BODY_LIMIT_BYTES} bytes. ` +
        'Errors are application/problem+json with a stable `code`. ' +
        'With `admin.tls` the port serves HTTPS, and with `clientAuth` it asks for client certificates: mutual TLS adds to the token, it never replaces it.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/', description: 'The admin port' }],
    tags: [
      { name: 'services', description: 'Rollout state and assignments' },
      { name: 'rollouts', description: 'Rollout commands' },
      { name: 'overrides', description: 'Pins of one key to one version' },
      { name: 'audit', description: 'Who changed what, and why' },
      { name: 'alerts', description: 'Alertmanager webhook' },
      { name: 'probes', description: 'Health, readiness and metrics, without a token' },
      { name: 'meta', description: 'This document and the web console' },
    ],
    security: [{ bearer: [] }],
    paths: paths(),
    components: components(),
  };
}
