import { describe, expect, it } from 'vitest';
import { firstRequest } from '../../src/cli/serve-banner.js';
import { parseConfig } from '../../src/config/load.js';
import { SampleModelsError, sampleTargets } from '../../src/demo/sample-models.js';

const TOKENS = `admin: { listen: "127.0.0.1:0", tokens: [ { name: ops, token: "operator-token-0123456789", role: operator } ] }`;

function config(services: string) {
  return parseConfig(`proxy: { listen: "0.0.0.0:8080" }\n${TOKENS}\nservices:\n${services}`, {});
}

const FRAUD = `
  fraud:
    match: { pathPrefix: /fraud/ }
    stickiness: { header: x-user-id }
    versions: { v1: { targets: ["http://127.0.0.1:9001"] }, v2: { targets: ["http://localhost:9002", "http://127.0.0.1:9001"] } }
    rollout: { stable: v1 }
`;

describe('the sample models of serve --sample-models', () => {
  it('takes one model per distinct loopback address, named by the first version that uses it', () => {
    expect(sampleTargets(config(FRAUD))).toEqual([
      { service: 'fraud', version: 'v1', protocol: 'http', host: '127.0.0.1', port: 9001 },
      { service: 'fraud', version: 'v2', protocol: 'http', host: 'localhost', port: 9002 },
    ]);
  });

  it('starts gRPC sample models for a gRPC service, on IPv6 loopback too', () => {
    const grpc = `
  infer:
    protocol: grpc
    match: { pathPrefix: /inference.GRPCInferenceService }
    versions: { v1: { targets: ["http://[::1]:9100"] } }
    rollout: { stable: v1 }
`;
    expect(sampleTargets(config(grpc))).toEqual([{ service: 'infer', version: 'v1', protocol: 'grpc', host: '::1', port: 9100 }]);
  });

  it('refuses every target it cannot stand in for, naming each field', () => {
    const remote = `
  fraud:
    match: { pathPrefix: /fraud }
    versions: { v1: { targets: ["http://10.0.0.7:9001", "http://127.0.0.1"] }, v2: { targets: ["https://127.0.0.1:9443"] } }
    rollout: { stable: v1 }
`;
    expect(() => sampleTargets(config(remote))).toThrow(SampleModelsError);
    expect(() => sampleTargets(config(remote))).toThrow(
      '--sample-models starts models only on loopback http:// targets with a port (127.0.0.1, localhost, [::1]); not on services.fraud.versions.v1.targets[0] (http://10.0.0.7:9001), services.fraud.versions.v1.targets[1] (http://127.0.0.1), services.fraud.versions.v2.targets[0] (https://127.0.0.1:9443)',
    );
  });
});

describe('the request the banner prints', () => {
  it("goes to the first HTTP service's prefix with its sticky header, on loopback for a wildcard listener", () => {
    expect(firstRequest(config(FRAUD), 'http://0.0.0.0:8080')).toBe(`curl -s http://127.0.0.1:8080/fraud/score -H 'x-user-id: alice' -d '{"amount": 42}'`);
  });

  it('names the host a service matches, and trusts no certificate it cannot check over HTTPS', () => {
    const hosted = `
  eu:
    match: { host: eu.models.test, pathPrefix: / }
    versions: { v1: { targets: ["http://127.0.0.1:9001"] } }
    rollout: { stable: v1 }
`;
    expect(firstRequest(config(hosted), 'https://127.0.0.1:8443')).toBe(`curl -s -k https://127.0.0.1:8443/score -H 'host: eu.models.test' -d '{"amount": 42}'`);
  });

  it('is none when every service speaks gRPC', () => {
    const grpc = `
  infer:
    protocol: grpc
    match: { pathPrefix: /inference.GRPCInferenceService }
    versions: { v1: { targets: ["http://127.0.0.1:9100"] } }
    rollout: { stable: v1 }
`;
    expect(firstRequest(config(grpc), 'http://127.0.0.1:8080')).toBeNull();
  });
});
