import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_RULES } from '../../src/core/control-rules.js';
import type { Verdict, VerdictCheck } from '../../src/core/rollout-state.js';
import { createAdminApp, type AdminDeps } from '../../src/http/admin/app.js';
import { buildOpenApiDocument } from '../../src/http/admin/openapi.js';
import { START_MS, startAdmin, type AdminFixture } from '../helpers/admin-fixture.js';

/**
 * Keeps the OpenAPI document true: every route the admin app registers is
 * documented, every documented operation is a route of the app, and the
 * document is well formed (3.1, every $ref resolves).
 */

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'] as const;

/** The parts of express 5's (router 2.x) internals the walk reads. */
interface RouteLike {
  readonly path: string | readonly string[];
  readonly methods: Record<string, boolean>;
  readonly stack: readonly { readonly name: string }[];
}
interface LayerLike {
  readonly rawPath?: unknown;
  readonly route?: RouteLike;
  readonly handle: { readonly stack?: readonly LayerLike[] };
}

interface Registered {
  readonly method: string;
  readonly path: string;
  /** A route serving static files (the console's page and assets), not an API operation. */
  readonly staticFiles: boolean;
}

function mountPath(layer: LayerLike): string {
  const raw = layer.rawPath;
  if (raw === undefined || raw === '/') return '';
  if (typeof raw !== 'string') throw new Error(`cannot walk a router mounted at ${String(raw)}; mount routers at plain string paths`);
  return raw;
}

/** Every (method, path) in the router tree, prefixes joined, express `:param` as OpenAPI `{param}`. */
function walk(stack: readonly LayerLike[], prefix = ''): Registered[] {
  return stack.flatMap((layer): Registered[] => {
    if (layer.route !== undefined) {
      const route = layer.route;
      const paths = typeof route.path === 'string' ? [route.path] : [...route.path];
      const staticFiles = route.stack.some((handler) => handler.name === 'serveStatic');
      const methods = Object.keys(route.methods).filter((m) => route.methods[m] === true && m !== '_all');
      return paths.flatMap((path) => methods.map((method) => ({ method, path: toOpenApi(prefix + path), staticFiles })));
    }
    const inner = layer.handle.stack;
    return Array.isArray(inner) ? walk(inner, prefix + mountPath(layer)) : [];
  });
}

function toOpenApi(path: string): string {
  if (/[*?()]/.test(path)) throw new Error(`route ${path} uses a pattern the walk cannot map to OpenAPI`);
  return path.replace(/:(\w+)/g, '{$1}');
}

/** Resolves a local JSON pointer like `#/components/schemas/State`. */
function resolvePointer(root: unknown, pointer: string): unknown {
  if (!pointer.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const raw of pointer.slice(2).split('/')) {
    const part = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function refsIn(node: unknown, at = '#'): { at: string; ref: string }[] {
  if (Array.isArray(node)) return node.flatMap((item, i) => refsIn(item, `${at}/${i}`));
  if (typeof node !== 'object' || node === null) return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === '$ref' && typeof value === 'string' ? [{ at, ref: value }] : refsIn(value, `${at}/${key}`),
  );
}

type Doc = { openapi: string; paths: Record<string, Record<string, any>>; components: any; security: unknown };

function documented(doc: Doc): { method: string; path: string }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((key): key is (typeof METHODS)[number] => (METHODS as readonly string[]).includes(key))
      .map((method) => ({ method, path })),
  );
}

const key = (r: { method: string; path: string }): string => `${r.method.toUpperCase()} ${r.path}`;

/** The JSON Schema keywords the hand-written response schemas use; any other one fails the check instead of being skipped. */
const KEYWORDS = new Set(['$ref', 'oneOf', 'type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'items', 'format', 'pattern', 'minimum', 'maximum', 'exclusiveMinimum', 'description']);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/**
 * Checks a response body against a schema of the document, closed by default: an
 * object schema with `properties` and no `additionalProperties` may carry no other
 * field, so a field the API answers and the document lacks is found too.
 */
function schemaProblems(doc: unknown, schema: Record<string, any>, value: unknown, at: string): string[] {
  const unknown = Object.keys(schema).filter((k) => !KEYWORDS.has(k));
  if (unknown.length > 0) return [`${at}: the check does not know keyword ${unknown.join(', ')}`];
  if (typeof schema['$ref'] === 'string') return schemaProblems(doc, resolvePointer(doc, schema['$ref']) as Record<string, any>, value, at);
  if (Array.isArray(schema['oneOf'])) {
    const matching = (schema['oneOf'] as Record<string, any>[]).filter((option) => schemaProblems(doc, option, value, at).length === 0).length;
    return matching === 1 ? [] : [`${at}: matches ${matching} of the oneOf schemas, not exactly one (${JSON.stringify(value)?.slice(0, 120)})`];
  }
  const problems: string[] = [];
  const types = schema['type'] === undefined ? null : ([] as string[]).concat(schema['type']);
  const actual = typeOf(value);
  if (types !== null && !types.includes(actual) && !(actual === 'integer' && types.includes('number'))) return [`${at}: ${actual}, not ${types.join(' or ')}`];
  if (schema['enum'] !== undefined && !(schema['enum'] as unknown[]).includes(value)) problems.push(`${at}: ${JSON.stringify(value)} not in the enum`);
  if (schema['const'] !== undefined && schema['const'] !== value) problems.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema['const'])}`);
  if (typeof value === 'string' && schema['format'] === 'date-time' && Number.isNaN(Date.parse(value))) problems.push(`${at}: ${value} is not a date-time`);
  if (typeof value === 'string' && typeof schema['pattern'] === 'string' && !new RegExp(schema['pattern']).test(value)) problems.push(`${at}: ${value} does not match ${schema['pattern']}`);
  if (typeof value === 'number') {
    if (typeof schema['minimum'] === 'number' && value < schema['minimum']) problems.push(`${at}: ${value} < ${schema['minimum']}`);
    if (typeof schema['maximum'] === 'number' && value > schema['maximum']) problems.push(`${at}: ${value} > ${schema['maximum']}`);
    if (typeof schema['exclusiveMinimum'] === 'number' && value <= schema['exclusiveMinimum']) problems.push(`${at}: ${value} <= ${schema['exclusiveMinimum']}`);
  }
  if (Array.isArray(value) && schema['items'] !== undefined) value.forEach((item, i) => problems.push(...schemaProblems(doc, schema['items'], item, `${at}[${i}]`)));
  if (actual === 'object') problems.push(...objectProblems(doc, schema, value as Record<string, unknown>, at));
  return problems;
}

function objectProblems(doc: unknown, schema: Record<string, any>, value: Record<string, unknown>, at: string): string[] {
  const properties = (schema['properties'] ?? {}) as Record<string, Record<string, any>>;
  const extra = schema['additionalProperties'] as boolean | Record<string, any> | undefined;
  const problems = ((schema['required'] ?? []) as string[]).filter((name) => !Object.hasOwn(value, name)).map((name) => `${at}.${name}: required, missing`);
  for (const [name, field] of Object.entries(value)) {
    const property = properties[name];
    if (property !== undefined) problems.push(...schemaProblems(doc, property, field, `${at}.${name}`));
    else if (typeof extra === 'object') problems.push(...schemaProblems(doc, extra, field, `${at}.${name}`));
    else if (extra !== true) problems.push(`${at}.${name}: not in the document`);
  }
  return problems;
}

describe('OpenAPI document', () => {
  let admin: AdminFixture;
  let deps: AdminDeps | undefined;
  let served: { status: number; contentType: string | null; text: string };

  beforeAll(async () => {
    admin = await startAdmin({
      patch: (d) => {
        deps = d;
        return d;
      },
    });
    // No Authorization header: the document needs no token.
    const res = await fetch(`${admin.url}/api/v1/openapi.json`);
    served = { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
  });

  afterAll(async () => {
    await admin.close();
  });

  function registered(): Registered[] {
    if (deps === undefined) throw new Error('the fixture did not hand over its deps');
    const app = createAdminApp(deps) as unknown as { router?: { stack?: readonly LayerLike[] } };
    const stack = app.router?.stack;
    if (!Array.isArray(stack)) throw new Error('express app has no router.stack; the route walk needs updating for this express version');
    return walk(stack);
  }

  it('is served as JSON without a token, OpenAPI 3.1', () => {
    expect(served.status).toBe(200);
    expect(served.contentType).toMatch(/^application\/json/);
    const doc = JSON.parse(served.text) as Doc;
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument())));
  });

  it('the route walk sees the app (sanity)', () => {
    const routes = registered().map(key);
    expect(routes).toContain('GET /healthz');
    expect(routes).toContain('POST /api/v1/services/{service}/rollback');
    expect(routes).toContain('PUT /api/v1/services/{service}/overrides/{key}');
    expect(routes).toContain('GET /api/v1/openapi.json');
  });

  it('documents every route the app registers', () => {
    const doc = JSON.parse(served.text) as Doc;
    const inDoc = new Set(documented(doc).map(key));
    const missing = registered()
      .filter((r) => !r.staticFiles)
      .map(key)
      .filter((k) => !inDoc.has(k));
    expect(missing, 'routes of the app missing from src/http/admin/openapi.ts').toEqual([]);
  });

  it('documents no operation the app does not have', () => {
    const doc = JSON.parse(served.text) as Doc;
    const inApp = new Set(registered().map(key));
    const extra = documented(doc)
      .map(key)
      .filter((k) => !inApp.has(k));
    expect(extra, 'operations in the document that no route serves').toEqual([]);
  });

  it('resolves every $ref', () => {
    const doc = JSON.parse(served.text) as unknown;
    const refs = refsIn(doc);
    expect(refs.length).toBeGreaterThan(20);
    const broken = refs.filter(({ ref }) => resolvePointer(doc, ref) === undefined).map(({ at, ref }) => `${at}: ${ref}`);
    expect(broken).toEqual([]);
  });

  it('has unique operation ids, path parameters declared, and auth as the app enforces it', () => {
    const doc = JSON.parse(served.text) as Doc;
    const deref = (node: any): any => (typeof node?.$ref === 'string' ? resolvePointer(doc, node.$ref) : node);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
    const ids: string[] = [];
    for (const { method, path } of documented(doc)) {
      const op = doc.paths[path]![method];
      ids.push(op.operationId);
      const params = ((op.parameters ?? []) as unknown[]).map(deref);
      const declared = params.filter((p) => p.in === 'path').map((p) => p.name as string).sort();
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
      expect(declared, `${method} ${path} path parameters`).toEqual(inPath);
      const open = Array.isArray(op.security) && op.security.length === 0;
      // Everything under /api/v1 sits behind authenticate(), except this document.
      const needsToken = path.startsWith('/api/v1/') && path !== '/api/v1/openapi.json';
      expect(open, `${method} ${path} security`).toBe(!needsToken);
      if (needsToken) expect(op.responses['401'], `${method} ${path} 401`).toBeDefined();
      if (method !== 'get' && needsToken) {
        expect(op.responses['403'], `${method} ${path} 403`).toBeDefined();
        expect(op.responses['413'], `${method} ${path} 413`).toBeDefined();
      }
      if (method === 'post' && path.startsWith('/api/v1/services/')) {
        expect(params.some((p) => p.in === 'header' && p.name === 'If-Match'), `${method} ${path} If-Match`).toBe(true);
        expect(op.responses['409'], `${method} ${path} 409`).toBeDefined();
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
    const statuses = new Set(documented(doc).flatMap(({ method, path }) => Object.keys(doc.paths[path]![method].responses)));
    for (const status of ['400', '401', '403', '404', '409', '413', '503']) expect(statuses.has(status), status).toBe(true);
  });

  it('describes problems as application/problem+json', () => {
    const doc = JSON.parse(served.text) as Doc;
    for (const [name, response] of Object.entries(doc.components.responses as Record<string, any>)) {
      expect(response.content['application/problem+json']?.schema, name).toEqual({ $ref: '#/components/schemas/Problem' });
    }
    const rollback = doc.paths['/api/v1/services/{service}/rollback']!['post'];
    for (const status of ['400', '401', '403', '404', '409', '413', '503']) expect(rollback.responses[status], status).toBeDefined();
  });

  it('describes every answer of a manual canary held by its verdict, and the audit entries with rules and verdicts', async () => {
    const doc = JSON.parse(served.text) as Doc;
    const fraud = '/api/v1/services/fraud-scorer';
    const check = (name: string, value: number | null): VerdictCheck => ({ name, value, threshold: 200, result: 'inconclusive', detail: `${name} figures`, meaning: `${name} in words` });
    expect((await admin.call('POST', `${fraud}/rollout`, { body: { candidate: 'v2', weight: 2.5 } })).status).toBe(200);
    const startedAt = (await admin.commands.state('fraud-scorer')).startedAt;
    const verdict: Verdict = {
      result: 'inconclusive',
      reason: 'the candidate share does not match its weight',
      at: START_MS + 10_000,
      hold: true,
      checks: [check('evidence', 1.2), check('sample ratio', null)],
      figures: { buckets: 3 },
      shadow: { version: 'v3', result: 'pass', reason: 'no regression', checks: [check('shadow evidence', 0.5)], figures: {}, drift: { flagged: false, rollback: false, reason: 'agrees', figures: { pairs: 40 } } },
      startedAt,
      held: { kind: 'sample-ratio', reason: 'candidate share 9% vs expected 2.5%', since: START_MS + 5_000 },
    };
    await admin.store.putVerdict('fraud-scorer', verdict);
    await admin.commands.run('fraud-scorer', { type: 'rollback' }, { actor: 'analysis', reason: 'evidence crossed', verdict, rule: CONTROL_RULES.failRollsBack });
    await admin.call('POST', `${fraud}/rollout`, { body: { candidate: 'v2', weight: 5 } });
    await admin.store.putVerdict('fraud-scorer', { ...verdict, startedAt: (await admin.commands.state('fraud-scorer')).startedAt });

    const one = await admin.call('GET', fraud);
    expect(one.body).toMatchObject({ manual: true, lastVerdict: { held: { kind: 'sample-ratio' }, checks: [{ meaning: 'evidence in words' }, { value: null }] } });
    const audit = await admin.call('GET', '/api/v1/audit?service=fraud-scorer');
    expect(audit.body.entries.map((e: { rule: string | null }) => e.rule)).toContain(CONTROL_RULES.failRollsBack);
    expect(audit.body.entries.some((e: { verdict: unknown }) => e.verdict !== null)).toBe(true);
    const answers: Array<[string, string, unknown]> = [
      ['/api/v1/services/{service}', 'get', one.body],
      ['/api/v1/services', 'get', (await admin.call('GET', '/api/v1/services')).body],
      ['/api/v1/audit', 'get', audit.body],
      ['/api/v1/services/{service}/weight', 'post', (await admin.call('POST', `${fraud}/weight`, { body: { weight: 0 } })).body],
    ];
    for (const [path, method, body] of answers) {
      const schema = doc.paths[path]![method].responses['200'].content['application/json'].schema;
      expect(schemaProblems(doc, schema, body, `${method} ${path}`)).toEqual([]);
    }
    // The check can fail: a field the document lacks, and one it requires but the answer lacks.
    const state = doc.components.schemas.State;
    expect(schemaProblems(doc, state, { ...one.body, surprise: 1 }, 'state')).toContain('state.surprise: not in the document');
    const { manual: _manual, ...withoutManual } = one.body;
    expect(schemaProblems(doc, state, withoutManual, 'state')).toContain('state.manual: required, missing');
  });

  it("describes /readyz as a host with proxy workers answers it, ready or not", async () => {
    const doc = JSON.parse(served.text) as Doc;
    const schemaOf = (status: string) => doc.paths['/readyz']!['get'].responses[status].content['application/json'].schema;
    let alive = 2;
    const host = await startAdmin({ patch: (d) => ({ ...d, proxy: () => ({ listening: true, workers: { alive, needed: 2 } }) }) });
    try {
      const ready = await fetch(`${host.url}/readyz`);
      const readyBody = (await ready.json()) as Record<string, unknown>;
      expect(ready.status).toBe(200);
      expect(readyBody).toMatchObject({ workers: { alive: 2, needed: 2 } });
      expect(schemaProblems(doc, schemaOf('200'), readyBody, 'readyz 200')).toEqual([]);
      alive = 1;
      const unready = await fetch(`${host.url}/readyz`);
      const unreadyBody = (await unready.json()) as Record<string, unknown>;
      expect(unready.status).toBe(503);
      expect(schemaProblems(doc, schemaOf('503'), unreadyBody, 'readyz 503')).toEqual([]);
    } finally {
      await host.close();
    }
  });

  it('documents the manual canary weight of a start and the new verdict, hold and audit fields', () => {
    const schemas = (JSON.parse(served.text) as Doc).components.schemas;
    expect(schemas.StartRollout.properties.weight).toMatchObject({ type: 'number', minimum: 0, maximum: 100 });
    expect(schemas.StartRollout.required).toEqual(['candidate']);
    expect(schemas.VerdictCheck.required).toContain('meaning');
    expect(schemas.Verdict.required).toEqual(expect.arrayContaining(['startedAt', 'held']));
    expect(schemas.Hold.properties.kind.enum).toEqual(['sample-ratio', 'shadow-drift']);
    expect(schemas.AuditEntry.required).toEqual(expect.arrayContaining(['rule', 'verdict']));
    expect(schemas.State.required).toContain('manual');
  });

  it('takes request bodies from the zod schemas', () => {
    const doc = JSON.parse(served.text) as Doc;
    const schemas = doc.components.schemas;
    expect(schemas.StartRollout).toMatchObject({ type: 'object', required: ['candidate'], additionalProperties: false });
    expect(schemas.StartRollout.properties.strategy.enum).toEqual(['canary', 'blue-green']);
    expect(schemas.RollbackBody.required).toEqual(['reason']);
    expect(schemas.PutOverride.required).toEqual(['version', 'reason']);
    expect(schemas.SetShadow).toMatchObject({ type: 'object', required: ['version', 'percent'], additionalProperties: false });
    expect(doc.paths['/api/v1/services/{service}/shadow']!['delete'].requestBody.required).toBe(false);
    const audit = doc.paths['/api/v1/audit']!['get'].parameters.map((p: any) => p.name);
    expect(audit).toEqual(['service', 'limit', 'before']);
  });
});
