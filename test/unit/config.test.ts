import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ANALYSIS_CONFIG } from '../../src/core/analysis/config.js';
import { DEFAULT_DRIFT_CONFIG, validateDriftConfig } from '../../src/core/shadow/drift-config.js';
import { describe, expect, test } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { isSwitchyardError, type SwitchyardError } from '../../src/core/errors.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../config/example.yaml', import.meta.url));
const fixture = (name: string) => `${FIXTURES}${name}`;

/** The environment the fixtures are loaded with: never the test runner's own. */
const FIXTURE_ENV = { SY_TEST_OPERATOR_TOKEN: 'operator-token-from-env' } as const;

function refusal(load: () => Config): SwitchyardError {
  try {
    load();
  } catch (err) {
    if (isSwitchyardError(err)) return err;
    throw err;
  }
  throw new Error('expected the config to be refused');
}

function problemsOf(err: SwitchyardError): string[] {
  const problems = err.details?.['problems'];
  if (!Array.isArray(problems)) throw new Error(`no problem list in: ${err.message}`);
  return problems.map(String);
}

const sorted = (lines: readonly string[]) => [...lines].sort();

/** A valid service block, for inline configs. */
const SERVICE = `
services:
  fraud-scorer:
    match: { pathPrefix: /fraud }
    versions:
      v1: { targets: ["http://127.0.0.1:9001"] }
      v2: { targets: ["http://127.0.0.1:9002"] }
    rollout: { stable: v1, steps: [ { weight: 10, bake: 1m } ] }
`;

describe('config/example.yaml', () => {
  test('parses with an empty environment, every ${VAR:-default} falling back to its default', () => {
    const config = loadConfig(EXAMPLE, {});
    expect(config.proxy.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(config.admin.listen).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(config.admin.tokens).toEqual([
      { name: 'ops', token: 'dev-operator-token-change-me', role: 'operator' },
      { name: 'viewer', token: 'dev-read-token-change-me', role: 'read' },
    ]);
    expect(config.store.redis).toBeUndefined();
    expect(Object.keys(config.services)).toEqual(['fraud-scorer']);
  });

  test('takes admin tokens from the environment when the variables are set', () => {
    const config = loadConfig(EXAMPLE, { SWITCHYARD_ADMIN_TOKEN: 'token-from-the-environment' });
    expect(config.admin.tokens[0]?.token).toBe('token-from-the-environment');
    expect(config.admin.tokens[1]?.token).toBe('dev-read-token-change-me');
  });

  test('turns step weights into basis points and durations into milliseconds', () => {
    const service = loadConfig(EXAMPLE, {}).services['fraud-scorer'];
    expect(service?.rollout).toEqual({
      stable: 'v1',
      strategy: 'canary',
      steps: [
        { weightBp: 500, bakeMs: 60_000 },
        { weightBp: 2_500, bakeMs: 120_000 },
        { weightBp: 5_000, bakeMs: 120_000 },
        { weightBp: 10_000, bakeMs: 60_000 },
      ],
    });
    expect(service?.timeouts).toEqual({ connect: 2_000, request: 30_000, idle: 60_000, upstreamIdle: 4_000 });
    expect(service?.versions).toEqual({ v1: { targets: ['http://127.0.0.1:9001'] }, v2: { targets: ['http://127.0.0.1:9002'] } });
    expect(service?.match).toEqual({ pathPrefix: '/fraud' });
    expect(service?.stickiness).toEqual({ header: 'x-user-id', cookie: 'sy_uid' });
  });

  test('the result is deeply frozen: no part of the config can be changed after loading', () => {
    const config = loadConfig(EXAMPLE, {});
    const service = config.services['fraud-scorer'];
    if (service === undefined) throw new Error('fraud-scorer missing');
    for (const part of [config, config.proxy, config.admin.tokens, config.services, service, service.versions, service.rollout.steps, service.rollout.steps[0]]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(() => {
      (service.rollout as { stable: string }).stable = 'v2';
    }).toThrow(TypeError);
    expect(() => {
      (service.versions['v1']?.targets as string[]).push('http://evil:80');
    }).toThrow(TypeError);
    expect(service.rollout.stable).toBe('v1');
  });
});

describe('valid fixtures', () => {
  const valid = readdirSync(FIXTURES).filter((f) => f.startsWith('valid-') && f.endsWith('.yaml'));

  test('there are valid fixtures to check', () => {
    expect(valid).toEqual(expect.arrayContaining(['valid-minimal.yaml', 'valid-full.yaml']));
  });

  test.each(valid)('%s parses', (file) => {
    const config = loadConfig(fixture(file), FIXTURE_ENV);
    expect(Object.keys(config.services).length).toBeGreaterThan(0);
  });

  test.each([
    ['0', 'analysis.concurrency: must be at least 1'],
    ['2.5', 'analysis.concurrency: must be a whole number'],
    ['1000', 'analysis.concurrency: must be at most 256'],
  ])('analysis.concurrency %s is refused naming the field', (value, problem) => {
    const text = `analysis: { concurrency: ${value} }\n${SERVICE}`;
    expect(problemsOf(refusal(() => parseConfig(text, {})))).toEqual([problem]);
  });

  test.each(['/fraud?x=1', '/fraud#a', '/fr%61ud', '/a\\b', '/fraud/../x', '/./fraud'])('pathPrefix %s is refused: it could never match a normalised path', (prefix) => {
    const text = SERVICE.replace('pathPrefix: /fraud', `pathPrefix: "${prefix.replace(/\\/g, '\\\\')}"`);
    const problems = problemsOf(refusal(() => parseConfig(text, {})));
    expect(problems).toEqual([expect.stringMatching(/^services\.fraud-scorer\.match\.pathPrefix: must be a plain path/)]);
  });

  test('a minimal config gets the documented defaults', () => {
    const config = loadConfig(fixture('valid-minimal.yaml'), {});
    expect(config.proxy.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(config.admin).toEqual({ listen: { host: '127.0.0.1', port: 8081 }, tokens: [] });
    expect(config.store).toEqual({});
    expect(config.log).toEqual({ level: 'info' });
    expect(config.analysis).toEqual({ interval: 5_000, bucket: 1_000, flush: 1_000, settle: 2_000, baseline: 600_000, retention: 86_400_000, maxInconclusive: 60, concurrency: 16 });
    expect(config.notifications).toEqual({ webhooks: [] });
    expect(config.proxy).toMatchObject({ drainDelay: 5_000, drainTimeout: 30_000, accessLog: false, keepAliveTimeout: 65_000, workers: 1 });
    expect(config.services['fraud-scorer']).toEqual({
      analysis: { enabled: true, config: DEFAULT_ANALYSIS_CONFIG },
      fallback: { toStable: true, statuses: [502, 503, 504], replayBodyBytes: 1024 * 1024 },
      health: { failures: 5, cooldown: 5_000, maxCooldown: 60_000 },
      protocol: 'http',
      match: { pathPrefix: '/' },
      stickiness: { cookie: 'sy_uid' },
      versions: { v1: { targets: ['http://127.0.0.1:9001'] } },
      timeouts: { connect: 2_000, request: 30_000, idle: 60_000, upstreamIdle: 4_000 },
      shadow: {
        version: null,
        sampleBp: 10_000,
        timeoutMs: 2_000,
        maxBodyBytes: 64 * 1024,
        maxConcurrent: 32,
        prediction: null,
        drift: { alpha: 0.01, maxDisagreement: 0.05, scoreTolerance: 0.05, psiTolerance: 0.25, action: 'hold' },
      },
      rollout: { stable: 'v1', strategy: 'canary', steps: [] },
    });
  });

  test('a full config keeps every field: IPv6 listen, host match, sentinels, decimal weights, sub-second durations', () => {
    const config = loadConfig(fixture('valid-full.yaml'), FIXTURE_ENV);
    expect(config.proxy.listen).toEqual({ host: '::1', port: 18080 });
    expect(config.admin.tokens).toEqual([
      { name: 'ops', token: 'operator-token-from-env', role: 'operator' },
      { name: 'viewer', token: 'read-token-from-the-file', role: 'read' },
    ]);
    expect(config.store.redis).toEqual({
      sentinels: [{ host: 'sentinel-a', port: 26379 }, { host: 'sentinel-b', port: 26379 }],
      name: 'mymaster',
      keyPrefix: 'sy-test',
    });
    expect(config.log.level).toBe('warn');
    const fraud = config.services['fraud-scorer'];
    expect(fraud?.match).toEqual({ pathPrefix: '/fraud', host: 'models.example.com' });
    expect(fraud?.stickiness).toEqual({ header: 'x-user-id', cookie: 'fraud_uid' });
    expect(fraud?.timeouts).toEqual({ connect: 500, request: 1_500, idle: 60_000, upstreamIdle: 4_000 });
    expect(fraud?.versions['v1']?.targets).toEqual(['http://10.0.0.1:9001', 'http://10.0.0.2:9001']);
    expect(fraud?.rollout.steps).toEqual([
      { weightBp: 50, bakeMs: 30_000 },
      { weightBp: 1_225, bakeMs: 60_000 },
      { weightBp: 1_225, bakeMs: 3_600_000 },
      { weightBp: 10_000, bakeMs: 250 },
    ]);
    expect(config.services['ranker']?.rollout).toEqual({ stable: 'blue', strategy: 'blue-green', steps: [] });
  });
});

/** Each invalid fixture and the exact problems it must report (order free). */
const INVALID: Record<string, readonly string[]> = {
  'invalid-target-url.yaml': ['services.fraud-scorer.versions.v2.targets[0]: not a URL (got "127.0.0.1 port 9002")'],
  'invalid-target-path.yaml': [
    'services.fraud-scorer.versions.v1.targets[0]: give an origin like http://host:port or https://host:port; the request path is forwarded unchanged (got "http://127.0.0.1:9001/predict")',
  ],
  'invalid-target-scheme.yaml': ['services.fraud-scorer.versions.v1.targets[1]: only http:// and https:// targets are supported (got "ws://127.0.0.1:9443")'],
  'invalid-no-targets.yaml': ['services.fraud-scorer.versions.v2.targets: needs at least one target'],
  'invalid-unknown-field.yaml': ['services.fraud-scorer.rollout.stratgey: Unrecognized key "stratgey"; did you mean "strategy"?'],
  'invalid-unknown-top-level.yaml': ['metrics: Unrecognized key "metrics"'],
  'invalid-stable-unknown.yaml': ['services.fraud-scorer.rollout.stable: names no version of this service (versions: v1, v2)'],
  'invalid-missing-env.yaml': ['store.redis.url: environment variable SY_TEST_UNSET_REDIS_HOST is not set'],
  'invalid-decreasing-steps.yaml': ['services.fraud-scorer.rollout.steps[2].weight: step weights must not decrease (25% after 50%)'],
  'invalid-bad-duration.yaml': ['services.fraud-scorer.rollout.steps[0].bake: must be a duration like 500ms, 30s, 5m, 1h or 7d (got "5 minutes")'],
  'invalid-weight.yaml': [
    'services.fraud-scorer.rollout.steps[0].weight: must be a percent 0..100 with at most two decimals',
    'services.fraud-scorer.rollout.steps[1].weight: must be a percent 0..100 with at most two decimals',
  ],
  'invalid-listen.yaml': ['admin.listen: not a host:port address (got "8081")'],
  'invalid-listen-port.yaml': ['proxy.listen: not a host:port address (got "0.0.0.0:80800")'],
  'invalid-short-token.yaml': ['admin.tokens[0].token: too short: use at least 16 characters'],
  'invalid-path-prefix.yaml': ['services.fraud-scorer.match.pathPrefix: must start with "/"'],
  'invalid-no-services.yaml': ['services: needs at least one service'],
  'invalid-three-problems.yaml': [
    'admin.tokens[0].token: too short: use at least 16 characters',
    'services.fraud-scorer.versions.v2.targets[0]: not a URL (got "not a url")',
    'services.fraud-scorer.rollout.stable: names no version of this service (versions: v1, v2)',
  ],
};

/** Invalid fixtures whose problem is the field path alone (zod's own wording after it). */
const INVALID_PATH_ONLY: Record<string, string> = {
  'invalid-role.yaml': 'admin.tokens[0].role: ',
  'invalid-bad-timeout.yaml': 'services.fraud-scorer.timeouts.request: ',
  // The proxy arms setTimeout with these: 0 fails every request, and past 2^31-1 ms Node clamps the timer to 1 ms.
  'invalid-timeout-zero.yaml': 'services.fraud-scorer.timeouts.connect: ',
  'invalid-timeout-overflow.yaml': 'services.fraud-scorer.timeouts.request: ',
};

/** Fixtures that are not YAML at all. */
const NOT_YAML: Record<string, RegExp> = {
  'invalid-yaml.yaml': /invalid-yaml\.yaml: not valid YAML: .*line 4, column 5/,
  'invalid-duplicate-key.yaml': /invalid-duplicate-key\.yaml: not valid YAML: Map keys must be unique at line 7/,
};

describe('invalid fixtures', () => {
  test('every invalid-*.yaml fixture has an expectation in this file, and every expectation a fixture', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.startsWith('invalid-'));
    expect(sorted(files)).toEqual(sorted([...Object.keys(INVALID), ...Object.keys(INVALID_PATH_ONLY), ...Object.keys(NOT_YAML)]));
  });

  test.each(Object.entries(INVALID))('%s is refused naming each bad field', (file, expected) => {
    const err = refusal(() => loadConfig(fixture(file), FIXTURE_ENV));
    expect(err.code).toBe('SY_ERR_CONFIG');
    expect(err.status).toBe(500);
    expect(err.message.startsWith(`${fixture(file)} is invalid:\n`)).toBe(true);
    for (const line of expected) expect(err.message).toContain(`\n  ${line}`);
    expect(sorted(problemsOf(err))).toEqual(sorted(expected));
  });

  test.each(Object.entries(INVALID_PATH_ONLY))('%s is refused naming the field', (file, prefix) => {
    const problems = problemsOf(refusal(() => loadConfig(fixture(file), FIXTURE_ENV)));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.startsWith(prefix)).toBe(true);
  });

  test.each(Object.entries(NOT_YAML))('%s is refused as malformed YAML with the file and line', (file, pattern) => {
    const err = refusal(() => loadConfig(fixture(file), FIXTURE_ENV));
    expect(err.code).toBe('SY_ERR_CONFIG');
    expect(err.message).toMatch(pattern);
  });

  test('a file that cannot be read is refused with its name', () => {
    const err = refusal(() => loadConfig(fixture('no-such-file.yaml'), {}));
    expect(err.code).toBe('SY_ERR_CONFIG');
    expect(err.message).toContain(`cannot read config file ${fixture('no-such-file.yaml')}`);
  });
});

describe('parseConfig', () => {
  test('reports every independent problem at once, across sections and services', () => {
    const text = `
proxy: { listen: "nowhere" }
admin: { listen: "127.0.0.1:99999", tokens: [ { name: ops, token: "\${SY_TEST_UNSET_TOKEN}", role: operator } ] }
services:
  fraud-scorer:
    match: { pathPrefix: /fraud }
    versions:
      v1: { targets: ["http://127.0.0.1:9001"] }
    rollout: { stable: v1, steps: [ { weight: 10, bake: soon } ] }
  ranker:
    match: { pathPrefix: /rank }
    versions:
      v1: { targets: ["ftp://files"] }
    rollout: { stable: v1 }
`;
    const problems = problemsOf(refusal(() => parseConfig(text, {})));
    expect(problems).toEqual(
      expect.arrayContaining([
        'proxy.listen: not a host:port address (got "nowhere")',
        'admin.listen: not a host:port address (got "127.0.0.1:99999")',
        'admin.tokens[0].token: environment variable SY_TEST_UNSET_TOKEN is not set',
        'services.fraud-scorer.rollout.steps[0].bake: must be a duration like 500ms, 30s, 5m, 1h or 7d (got "soon")',
        'services.ranker.versions.v1.targets[0]: only http:// and https:// targets are supported (got "ftp://files")',
      ]),
    );
  });

  test('names a bad keep-alive timeout or worker count', () => {
    const text = (proxy: string) => `proxy: { ${proxy} }\n${SERVICE}`;
    expect(problemsOf(refusal(() => parseConfig(text('keepAliveTimeout: 0s'), {})))).toEqual(['proxy.keepAliveTimeout: must be more than 0']);
    expect(problemsOf(refusal(() => parseConfig(text('workers: 0'), {})))).toEqual(['proxy.workers: must be at least 1']);
    expect(problemsOf(refusal(() => parseConfig(text('workers: 2.5'), {})))).toEqual(['proxy.workers: must be a whole number']);
    expect(parseConfig(text('workers: 4, keepAliveTimeout: 2m'), {}).proxy).toMatchObject({ workers: 4, keepAliveTimeout: 120_000 });
  });

  test('reads only the environment it is given, never process.env', () => {
    expect(process.env['PATH']).toBeDefined();
    const text = `store: { redis: { url: "redis://\${PATH}:6379" } }\n${SERVICE}`;
    expect(problemsOf(refusal(() => parseConfig(text, {})))).toEqual(['store.redis.url: environment variable PATH is not set']);
  });

  test('an environment variable set to the empty string counts as unset', () => {
    const required = `store: { redis: { url: "redis://\${SY_HOST}:6379" } }\n${SERVICE}`;
    expect(problemsOf(refusal(() => parseConfig(required, { SY_HOST: '' })))).toEqual([
      'store.redis.url: environment variable SY_HOST is not set',
    ]);
    const withDefault = `store: { redis: { url: "redis://\${SY_HOST:-cache}:6379" } }\n${SERVICE}`;
    expect(parseConfig(withDefault, { SY_HOST: '' }).store.redis?.url).toBe('redis://cache:6379');
    expect(parseConfig(withDefault, { SY_HOST: 'redis-0' }).store.redis?.url).toBe('redis://redis-0:6379');
  });

  test('substitutes several references in one string and names every missing one', () => {
    const text = `store: { redis: { url: "redis://\${SY_HOST}:\${SY_PORT}" } }\n${SERVICE}`;
    expect(parseConfig(text, { SY_HOST: 'r', SY_PORT: '6380' }).store.redis?.url).toBe('redis://r:6380');
    expect(problemsOf(refusal(() => parseConfig(text, {})))).toEqual([
      'store.redis.url: environment variable SY_HOST is not set',
      'store.redis.url: environment variable SY_PORT is not set',
    ]);
  });

  test('an empty file is refused because it has no services', () => {
    expect(problemsOf(refusal(() => parseConfig('', {})))).toEqual([
      expect.stringMatching(/^services: /),
    ]);
  });

  test('a service name that cannot sit in a Redis hash tag or URL path is refused by its path', () => {
    const text = SERVICE.replace('fraud-scorer:', '"fraud scorer":');
    const problems = problemsOf(refusal(() => parseConfig(text, {})));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.startsWith('services.fraud scorer: ')).toBe(true);
  });

  test('an unknown field in a token is refused, not ignored', () => {
    const text = `admin: { tokens: [ { name: ops, token: "a-long-enough-operator-token", role: operator, roles: [admin] } ] }\n${SERVICE}`;
    expect(problemsOf(refusal(() => parseConfig(text, {})))).toEqual(['admin.tokens[0].roles: Unrecognized key "roles"; did you mean "role"?']);
  });

  test('a service without its rollout or its versions is refused naming that field alone', () => {
    const withoutRollout = SERVICE.replace('    rollout: { stable: v1, steps: [ { weight: 10, bake: 1m } ] }\n', '');
    expect(problemsOf(refusal(() => parseConfig(withoutRollout, {})))).toEqual(['services.fraud-scorer.rollout: required, and missing (a mapping)']);
    const withoutVersions = SERVICE.replace(/    versions:\n(      v\d: .*\n)+/, '');
    expect(problemsOf(refusal(() => parseConfig(withoutVersions, {})))).toEqual(['services.fraud-scorer.versions: required, and missing (a mapping)']);
  });

  test('equal consecutive step weights are allowed (a longer bake at the same weight)', () => {
    const text = SERVICE.replace('steps: [ { weight: 10, bake: 1m } ]', 'steps: [ { weight: 10, bake: 1m }, { weight: 10, bake: 5m } ]');
    expect(parseConfig(text, {}).services['fraud-scorer']?.rollout.steps).toEqual([
      { weightBp: 1_000, bakeMs: 60_000 },
      { weightBp: 1_000, bakeMs: 300_000 },
    ]);
  });
});

describe('shadow', () => {
  const withShadow = (shadow: string, steps = '[ { weight: 10, bake: 1m } ]') =>
    SERVICE.replace('    rollout: { stable: v1, steps: [ { weight: 10, bake: 1m } ] }', `${shadow === '' ? '' : `    shadow: ${shadow}\n`}    rollout: { stable: v1, steps: ${steps} }`);
  const problems = (text: string) => problemsOf(refusal(() => parseConfig(text, {})));

  test('a standing shadow with every field, in API units', () => {
    const text = withShadow(
      '{ version: v2, percent: 12.5, timeout: 500ms, maxBodyBytes: 1KiB, maxConcurrent: 4, prediction: { field: "predictions[0].score", kind: score }, drift: { maxDisagreement: 2%, scoreTolerance: 0.1, psiTolerance: 0.1, action: rollback } }',
    );
    expect(parseConfig(text, {}).services['fraud-scorer']?.shadow).toEqual({
      version: 'v2',
      sampleBp: 1_250,
      timeoutMs: 500,
      maxBodyBytes: 1024,
      maxConcurrent: 4,
      prediction: { path: ['predictions', 0, 'score'], field: 'predictions[0].score', kind: 'score' },
      drift: { alpha: 0.01, maxDisagreement: 0.02, scoreTolerance: 0.1, psiTolerance: 0.1, action: 'rollback' },
    });
  });

  test('a version without percent mirrors every key; a share may be a fraction', () => {
    const shadow = parseConfig(withShadow('{ version: v2, drift: { maxDisagreement: 0.1 } }'), {}).services['fraud-scorer']?.shadow;
    expect(shadow).toMatchObject({ version: 'v2', sampleBp: 10_000, drift: { maxDisagreement: 0.1, action: 'hold' } });
  });

  test('shadow steps come before weighted ones and become weight-0 steps with a sample', () => {
    const text = withShadow('', '[ { shadow: 1, bake: 5m }, { shadow: 10, bake: 5m }, { weight: 5, bake: 5m }, { weight: 100 } ]');
    expect(parseConfig(text, {}).services['fraud-scorer']?.rollout.steps).toEqual([
      { weightBp: 0, bakeMs: 300_000, shadowBp: 100 },
      { weightBp: 0, bakeMs: 300_000, shadowBp: 1_000 },
      { weightBp: 500, bakeMs: 300_000 },
      { weightBp: 10_000, bakeMs: 60_000 },
    ]);
  });

  test.each<readonly [string, string, string]>([
    ['the stable version', '{ version: v1 }', 'services.fraud-scorer.shadow.version: is rollout.stable; shadowing stable compares it with itself'],
    ['an unknown version', '{ version: v7 }', 'services.fraud-scorer.shadow.version: names no version of this service (versions: v1, v2)'],
    ['a percent of 0', '{ version: v2, percent: 0 }', 'services.fraud-scorer.shadow.percent: must be a percent more than 0, at most 100, with at most two decimals'],
    ['a percent above 100', '{ version: v2, percent: 150 }', 'services.fraud-scorer.shadow.percent: must be a percent more than 0, at most 100, with at most two decimals'],
    ['a percent without a version', '{ percent: 10 }', 'services.fraud-scorer.shadow.percent: only with version: the admin API and the CLI give their own percent'],
    ['a zero timeout', '{ timeout: 0ms }', 'services.fraud-scorer.shadow.timeout: must be more than 0ms and at most 596h'],
    ['a size that is not one', '{ maxBodyBytes: 1GB }', 'services.fraud-scorer.shadow.maxBodyBytes: not a size like 512B, 64KiB or 1MiB (got "1GB")'],
    ['no concurrency', '{ maxConcurrent: 0 }', 'services.fraud-scorer.shadow.maxConcurrent: must be at least 1'],
    ['a fractional concurrency', '{ maxConcurrent: 2.5 }', 'services.fraud-scorer.shadow.maxConcurrent: must be a whole number'],
    ['a field that is not a path', '{ prediction: { field: "a..b", kind: label } }', 'services.fraud-scorer.shadow.prediction.field: not a field path like label or predictions[0].score (got "a..b")'],
    ['an unknown prediction kind', '{ prediction: { field: label, kind: class } }', 'services.fraud-scorer.shadow.prediction.kind: must be label or score'],
    ['a disagreement that is not a rate', '{ drift: { maxDisagreement: 5 } }', 'services.fraud-scorer.shadow.drift.maxDisagreement: not a rate like 5% or 0.05, more than 0% and less than 100% (got 5)'],
    ['a disagreement of 0%', '{ drift: { maxDisagreement: 0% } }', 'services.fraud-scorer.shadow.drift.maxDisagreement: not a rate like 5% or 0.05, more than 0% and less than 100% (got "0%")'],
    ['an unknown drift action', '{ drift: { action: stop } }', 'services.fraud-scorer.shadow.drift.action: must be flag, hold or rollback'],
    ['a negative score tolerance', '{ drift: { scoreTolerance: -0.1 } }', 'services.fraud-scorer.shadow.drift.scoreTolerance: must be at least 0'],
    ['a zero PSI tolerance', '{ drift: { psiTolerance: 0 } }', 'services.fraud-scorer.shadow.drift.psiTolerance: must be more than 0'],
    ['an unknown field', '{ mirror: true }', 'services.fraud-scorer.shadow.mirror: Unrecognized key "mirror"'],
  ])('%s is refused naming the field', (_what, shadow, problem) => {
    expect(problems(withShadow(shadow))).toEqual([problem]);
  });

  test('the drift section parses to the DriftConfig the drift judge takes, defaults included', () => {
    const shadow = parseConfig(withShadow('{ drift: { action: flag } }'), {}).services['fraud-scorer']?.shadow;
    expect(shadow?.drift).toEqual({ ...DEFAULT_DRIFT_CONFIG, action: 'flag' });
    expect(validateDriftConfig(shadow!.drift)).toEqual([]);
  });

  test.each<readonly [string, string, string]>([
    ['a shadow step after a weighted one', '[ { weight: 5 }, { shadow: 10 }, { weight: 50 } ]', 'services.fraud-scorer.rollout.steps[1].shadow: shadow steps come before the first weighted step'],
    ['only shadow steps', '[ { shadow: 10 } ]', 'services.fraud-scorer.rollout.steps: a weighted step must follow the shadow steps, or the last one would promote a version no client has used'],
    ['a step with both', '[ { shadow: 10, weight: 10 } ]', 'services.fraud-scorer.rollout.steps[0].shadow: a step is either {weight, bake} or {shadow, bake}, not both'],
    ['a step with neither', '[ { bake: 1m } ]', 'services.fraud-scorer.rollout.steps[0]: give weight (live traffic) or shadow (mirrored traffic)'],
    ['a shadow step mirroring nothing', '[ { shadow: 0 }, { weight: 10 } ]', 'services.fraud-scorer.rollout.steps[0].shadow: must be a percent more than 0, at most 100, with at most two decimals'],
  ])('a plan with %s is refused naming the step', (_what, steps, problem) => {
    expect(problems(withShadow('', steps))).toEqual([problem]);
  });
});

describe('unknown fields', () => {
  const problems = (text: string) => problemsOf(refusal(() => parseConfig(text, {})));
  const service = (line: string) => SERVICE.replace('    match: { pathPrefix: /fraud }', `    match: { pathPrefix: /fraud }\n${line}`);

  test.each<readonly [string, string, string]>([
    ['a misspelt service field', service('    stickyness: { header: x-user-id }'), 'services.fraud-scorer.stickyness: Unrecognized key "stickyness"; did you mean "stickiness"?'],
    ['a field that differs only in case', service('    Timeouts: { connect: 1s }'), 'services.fraud-scorer.Timeouts: Unrecognized key "Timeouts"; did you mean "timeouts"?'],
    ['a misspelt field of a nested object', service('    timeouts: { conect: 1s }'), 'services.fraud-scorer.timeouts.conect: Unrecognized key "conect"; did you mean "connect"?'],
    ['a misspelt field in a step', SERVICE.replace('{ weight: 10, bake: 1m }', '{ wieght: 10, bake: 1m }'), 'services.fraud-scorer.rollout.steps[0].wieght: Unrecognized key "wieght"; did you mean "weight"?'],
    ['a misspelt top-level section', `servces: {}\n${SERVICE}`, 'servces: Unrecognized key "servces"; did you mean "services"?'],
    ['a misspelt analysis threshold', service('    analysis: { alpah: 0.02 }'), 'services.fraud-scorer.analysis.alpah: Unrecognized key "alpah"; did you mean "alpha"?'],
  ])('%s names the known field it is closest to', (_what, text, problem) => {
    expect(problems(text)).toEqual([problem]);
  });

  test.each<readonly [string, string, string]>([
    ['a service field like no other', service('    colour: blue'), 'services.fraud-scorer.colour: Unrecognized key "colour"'],
    ['a step field like no other', SERVICE.replace('{ weight: 10, bake: 1m }', '{ weight: 10, bake: 1m, pause: true }'), 'services.fraud-scorer.rollout.steps[0].pause: Unrecognized key "pause"'],
    ['a nested field three edits away', service('    timeouts: { connection: 1s }'), 'services.fraud-scorer.timeouts.connection: Unrecognized key "connection"'],
  ])('%s gets no suggestion', (_what, text, problem) => {
    expect(problems(text)).toEqual([problem]);
  });

  test('several unknown fields of one object get a line each', () => {
    expect(problems(service('    stickyness: {}\n    colour: blue'))).toEqual([
      'services.fraud-scorer.stickyness: Unrecognized key "stickyness"; did you mean "stickiness"?',
      'services.fraud-scorer.colour: Unrecognized key "colour"',
    ]);
  });
});

describe('store.redis', () => {
  const redis = (fields: string) => `store: { redis: { ${fields} } }\n${SERVICE}`;
  const SENTINELS = 'sentinels: [ { host: s0, port: 26379 } ], name: mymaster';

  test('sentinels take the servers’ credentials and the sentinels’ own, from the environment', () => {
    const text = redis(`${SENTINELS}, username: sy, password: "\${SY_REDIS_PASSWORD}", sentinelPassword: "\${SY_SENTINEL_PASSWORD}"`);
    expect(parseConfig(text, { SY_REDIS_PASSWORD: 'p@ss:word/1', SY_SENTINEL_PASSWORD: 's3cret' }).store.redis).toEqual({
      sentinels: [{ host: 's0', port: 26379 }],
      name: 'mymaster',
      username: 'sy',
      password: 'p@ss:word/1',
      sentinelPassword: 's3cret',
      keyPrefix: 'sy',
    });
  });

  test('a cluster takes a password for its nodes', () => {
    expect(parseConfig(redis('cluster: [ { host: c0, port: 7000 } ], password: pw'), {}).store.redis).toEqual({ cluster: [{ host: 'c0', port: 7000 }], password: 'pw', keyPrefix: 'sy' });
  });

  test.each<readonly [string, string, readonly string[]]>([
    ['no way to reach Redis', 'keyPrefix: sy', ['store.redis: give exactly one of url, sentinels (with name) or cluster: none was given']],
    ['a URL and sentinels', `url: "redis://r:6379", ${SENTINELS}`, ['store.redis: give exactly one of url, sentinels (with name) or cluster: url and sentinels were given']],
    ['sentinels without the group name', 'sentinels: [ { host: s0, port: 26379 } ]', ['store.redis.name: required with sentinels: the name of the master group they watch']],
    ['a group name without sentinels', 'url: "redis://r:6379", name: mymaster', ['store.redis.name: is the master group of sentinels, and no sentinels were given']],
    ['a password beside a URL', 'url: "redis://r:6379", password: pw', ['store.redis.password: goes in the URL (redis://user:password@host:6379), not beside it']],
    ['a username without a password', `${SENTINELS}, username: sy`, ['store.redis.password: required with username']],
    ['a sentinel password without sentinels', 'cluster: [ { host: c0, port: 7000 } ], sentinelPassword: pw', ['store.redis.sentinelPassword: is for the sentinels, and no sentinels were given']],
    ['an empty password', `${SENTINELS}, password: ""`, ['store.redis.password: must not be empty (leave the field out when no password is asked for)']],
    ['a port out of range', 'sentinels: [ { host: s0, port: 70000 } ], name: mymaster', ['store.redis.sentinels[0].port: must be a port, 1 to 65535']],
    ['an empty node list', 'cluster: []', ['store.redis.cluster: must name at least one node']],
  ])('%s is refused naming the field', (_what, fields, problems) => {
    expect(sorted(problemsOf(refusal(() => parseConfig(redis(fields), {}))))).toEqual(sorted(problems));
  });

  test('a password that comes from an unset variable is named, never sent empty', () => {
    const text = redis(`${SENTINELS}, password: "\${SY_REDIS_PASSWORD}"`);
    expect(problemsOf(refusal(() => parseConfig(text, {})))).toEqual(['store.redis.password: environment variable SY_REDIS_PASSWORD is not set']);
  });
});
