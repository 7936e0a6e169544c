import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { isSwitchyardError } from '../../src/core/errors.js';
import { GRPC_CODES } from '../../src/core/grpc-status.js';

const GRPC_EXAMPLE = fileURLToPath(new URL('../../config/grpc-example.yaml', import.meta.url));

/** The problem lines of a refused config. */
function problems(text: string): string[] {
  try {
    parseConfig(text, {});
  } catch (err) {
    if (!isSwitchyardError(err) || err.code !== 'SY_ERR_CONFIG') throw err;
    const list = err.details?.['problems'];
    if (!Array.isArray(list)) throw new Error(`no problem list in: ${err.message}`);
    return list.map(String);
  }
  throw new Error('expected the config to be refused');
}

/** A service `infer` with `lines` (indented four spaces) added to a valid block. */
function service(lines: string, targets: readonly [string, string] = ['http://127.0.0.1:9101', 'http://127.0.0.1:9102']): string {
  return `
services:
  infer:
${lines
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => `    ${l}`)
  .join('\n')}
    match: { pathPrefix: /inference.GRPCInferenceService }
    stickiness: { header: x-user-id }
    versions:
      v1: { targets: ["${targets[0]}"] }
      v2: { targets: ["${targets[1]}"] }
    rollout: { stable: v1, steps: [ { weight: 10, bake: 1m } ] }
`;
}

const infer = (config: Config) => config.services['infer']!;
const DEFAULT_FAILING = [14, 13, 2, 4, 15];
const CODE_NAMES = GRPC_CODES.join(', ');

describe('protocol', () => {
  test('defaults to http, with no grpc block', () => {
    const svc = infer(parseConfig(service(''), {}));
    expect(svc.protocol).toBe('http');
    expect(svc.grpc).toBeUndefined();
  });

  test('grpc is accepted with http:// targets (h2c)', () => {
    const svc = infer(parseConfig(service('protocol: grpc'), {}));
    expect(svc.protocol).toBe('grpc');
    expect(svc.match).toEqual({ pathPrefix: '/inference.GRPCInferenceService' });
  });

  test('grpc is accepted with https:// targets and a tls block (h2 over TLS)', () => {
    const text = service('protocol: grpc\ntls: { serverName: models.internal, minVersion: TLSv1.3 }', ['https://10.0.4.7:8443', 'https://10.0.5.2:8443']);
    const svc = infer(parseConfig(text, {}));
    expect(svc.protocol).toBe('grpc');
    expect(svc.tls).toMatchObject({ serverName: 'models.internal', minVersion: 'TLSv1.3' });
    expect(svc.versions['v2']?.targets).toEqual(['https://10.0.5.2:8443']);
  });

  test('a host to match on :authority is accepted beside the service-name prefix', () => {
    const text = service('protocol: grpc').replace('match: { pathPrefix: /inference.GRPCInferenceService }', 'match: { pathPrefix: /inference.GRPCInferenceService, host: models.example }');
    expect(infer(parseConfig(text, {})).match).toEqual({ pathPrefix: '/inference.GRPCInferenceService', host: 'models.example' });
  });

  test('anything else is refused naming the field and the choices', () => {
    expect(problems(service('protocol: grpc-web'))).toEqual(['services.infer.protocol: must be http or grpc']);
    expect(problems(service('protocol: h2'))).toEqual(['services.infer.protocol: must be http or grpc']);
  });
});

describe('grpc.failingCodes', () => {
  test('defaults to UNAVAILABLE, INTERNAL, UNKNOWN, DEADLINE_EXCEEDED and DATA_LOSS, as numbers', () => {
    expect(infer(parseConfig(service('protocol: grpc\ngrpc: {}'), {})).grpc).toEqual({ failingCodes: DEFAULT_FAILING });
  });

  test('takes names in any case and numbers, and gives numbers', () => {
    const svc = infer(parseConfig(service('protocol: grpc\ngrpc: { failingCodes: [UNAVAILABLE, internal, Resource_Exhausted, 4, 0] }'), {}));
    expect(svc.grpc).toEqual({ failingCodes: [14, 13, 8, 4, 0] });
  });

  test('may be empty: only connect, TLS and deadline failures of the gateway then count', () => {
    expect(infer(parseConfig(service('protocol: grpc\ngrpc: { failingCodes: [] }'), {})).grpc).toEqual({ failingCodes: [] });
  });

  test.each<[string, string, string]>([
    ['an unknown name', 'BROKEN', '"BROKEN"'],
    ['a number above 16', '17', '17'],
    ['a negative number', '-1', '-1'],
    ['a fraction', '2.5', '2.5'],
    ['a name written with spaces', '"DEADLINE EXCEEDED"', '"DEADLINE EXCEEDED"'],
  ])('%s is refused naming the entry and listing the valid names', (_what, entry, got) => {
    expect(problems(service(`protocol: grpc\ngrpc: { failingCodes: [OK, ${entry}] }`))).toEqual([
      `services.infer.grpc.failingCodes[1]: not a gRPC status code: give a name (${CODE_NAMES}) or a number 0-16 (got ${got})`,
    ]);
  });

  test('an unknown field in the block is refused, not ignored', () => {
    expect(problems(service('protocol: grpc\ngrpc: { failing: [UNAVAILABLE] }'))).toEqual(['services.infer.grpc.failing: Unrecognized key "failing"']);
  });

  test('a grpc block on an http service is refused, since nothing would read it', () => {
    expect(problems(service('grpc: { failingCodes: [UNAVAILABLE] }'))).toEqual(['services.infer.grpc: applies only to protocol: grpc']);
    expect(problems(service('protocol: http\ngrpc: {}'))).toEqual(['services.infer.grpc: applies only to protocol: grpc']);
  });
});

describe('what a gRPC service cannot have', () => {
  test.each<[string, string, string]>([
    ['a guardrail without grpc.proto', 'guardrail: { field: "predictions[0].score", min: 0, max: 1 }', 'services.infer.guardrail: with protocol: grpc needs grpc.proto'],
    ['prediction comparison on its shadow without grpc.proto', 'shadow: { version: v2, prediction: { field: label, kind: label } }', 'services.infer.shadow.prediction: with protocol: grpc needs grpc.proto'],
    ['a fallback response', 'fallback: { response: { status: 503, body: { error: busy } } }', 'services.infer.fallback.response: is not supported with protocol: grpc'],
    ['a guardrail whose action sends the fallback response', 'grpc: { proto: model.proto }\nguardrail: { field: score, action: constant }', 'services.infer.guardrail.action: constant is not supported with protocol: grpc'],
  ])('%s is refused naming the field and why', (_what, block, prefix) => {
    const found = problems(service(`protocol: grpc\n${block}`));
    expect(found).toHaveLength(1);
    expect(found[0]!.startsWith(prefix)).toBe(true);
  });

  test('the refusals say what a gRPC service does instead', () => {
    const [guardrail] = problems(service('protocol: grpc\nguardrail: { field: score }'));
    expect(guardrail).toContain('the .proto file to decode the answers with');
    const [prediction] = problems(service('protocol: grpc\nshadow: { prediction: { field: score, kind: score } }'));
    expect(prediction).toContain('compare status and latency');
    const [response] = problems(service('protocol: grpc\nfallback: { response: { status: 503, body: "" } }'));
    expect(response).toContain('UNAVAILABLE naming the service, version and request id');
  });

  test('the same blocks stay accepted on an http service', () => {
    const text = service('guardrail: { field: score, min: 0, max: 1 }\nshadow: { prediction: { field: score, kind: score } }\nfallback: { response: { status: 503, body: {} } }');
    expect(infer(parseConfig(text, {})).protocol).toBe('http');
  });

  test('with grpc.proto, the guardrail and the prediction comparison are accepted', () => {
    const svc = infer(parseConfig(service('protocol: grpc\ngrpc: { proto: model.proto }\nguardrail: { field: score, min: 0, max: 1, action: serve-stable }\nshadow: { prediction: { field: score, kind: score } }'), {}));
    expect(svc.grpc?.proto).toBe('model.proto');
    expect(svc.guardrail?.action).toBe('serve-stable');
    expect(svc.shadow.prediction).toMatchObject({ field: 'score', kind: 'score' });
  });

  test('a shadow without prediction comparison, and the rest of fallback, are accepted', () => {
    const svc = infer(parseConfig(service('protocol: grpc\nshadow: { version: v2, percent: 10, maxBodyBytes: 16KiB }\nfallback: { toStable: true, replayBodyBytes: 256KiB }'), {}));
    expect(svc.shadow).toMatchObject({ version: 'v2', sampleBp: 1_000, maxBodyBytes: 16 * 1024, prediction: null });
    expect(svc.fallback).toMatchObject({ toStable: true, replayBodyBytes: 256 * 1024 });
    expect(svc.fallback.response).toBeUndefined();
  });
});

describe('several problems', () => {
  test('are reported at once, across gRPC fields and services', () => {
    const text = `
services:
  infer:
    protocol: grpc
    grpc: { failingCodes: [UNAVAILABLE, NOPE] }
    guardrail: { field: score, min: 0, max: 1 }
    shadow: { prediction: { field: score, kind: score } }
    fallback: { response: { status: 503, body: {} } }
    match: { pathPrefix: /inference.GRPCInferenceService }
    versions:
      v1: { targets: ["http://127.0.0.1:9101"] }
    rollout: { stable: v1 }
  scorer:
    grpc: { failingCodes: [UNAVAILABLE] }
    match: { pathPrefix: /score }
    versions:
      v1: { targets: ["http://127.0.0.1:9001"] }
    rollout: { stable: v1 }
  ranker:
    protocol: http2
    match: { pathPrefix: /rank }
    versions:
      v1: { targets: ["http://127.0.0.1:9003"] }
    rollout: { stable: v1 }
`;
    const found = problems(text).map((line) => line.slice(0, line.indexOf(': ')));
    expect(found.sort()).toEqual(
      [
        'services.infer.grpc.failingCodes[1]',
        'services.infer.guardrail',
        'services.infer.shadow.prediction',
        'services.infer.fallback.response',
        'services.scorer.grpc',
        'services.ranker.protocol',
      ].sort(),
    );
  });
});

describe('config/grpc-example.yaml', () => {
  test('parses with an empty environment: one gRPC service on the KServe v2 service name, one HTTP service', () => {
    const config = loadConfig(GRPC_EXAMPLE, {});
    const services = Object.entries(config.services).map(([name, s]) => [name, s.protocol, s.match.pathPrefix]);
    expect(services).toEqual([
      ['fraud-grpc', 'grpc', '/inference.GRPCInferenceService'],
      ['fraud-scorer', 'http', '/fraud'],
    ]);
    const grpc = config.services['fraud-grpc']!;
    expect(grpc.grpc?.failingCodes).toEqual([...DEFAULT_FAILING, 8]);
    expect(grpc.stickiness.header).toBe('x-user-id');
    expect(grpc.rollout.steps.length).toBeGreaterThan(0);
    expect(Object.values(grpc.versions).flatMap((v) => v.targets).every((t) => t.startsWith('http://'))).toBe(true);
  });
});
