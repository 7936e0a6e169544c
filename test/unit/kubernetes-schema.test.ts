import { describe, expect, it } from 'vitest';
import { schemaProblems } from '../helpers/kubernetes-schema.js';

// The schema check that test/integration/kubernetes-manifests.test.ts runs on
// every object of deploy/kubernetes: what it finds.

const deployment = (container: Record<string, unknown>, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'app', labels: { a: 'b' } },
  spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'app', image: 'app:1', ...container }] } }, ...spec },
});

describe('schemaProblems', () => {
  it('passes a valid object, labels and all', () => {
    expect(schemaProblems(deployment({ lifecycle: { preStop: { sleep: { seconds: 5 } } }, ports: [{ name: 'http', containerPort: 8080 }] }))).toEqual([]);
  });

  it('names a value of the wrong type and a field the schema lacks, with their paths', () => {
    expect(schemaProblems(deployment({ readinesProbe: { httpGet: { path: '/readyz', port: 'admin' } } }, { replicas: '3' }))).toEqual([
      '.spec.replicas: must be integer',
      '.spec.template.spec.containers[0].readinesProbe: not a field of the schema',
    ]);
  });

  it("checks each of an AlertmanagerConfig's child routes, which its CRD leaves free-form", () => {
    const config = {
      apiVersion: 'monitoring.coreos.com/v1alpha1',
      kind: 'AlertmanagerConfig',
      metadata: { name: 'x' },
      spec: {
        route: { receiver: 'a', routes: [{ receiver: 'a', matchers: [{ name: 'service', matchType: '==', value: 'x' }] }, { receiver: 'a', routes: [{ reciever: 'a' }] }] },
        receivers: [{ name: 'a' }],
      },
    };
    expect(schemaProblems(config)).toEqual([
      '.spec.route.routes[0].matchers[0].matchType: must be equal to one of the allowed values',
      '.spec.route.routes[1].routes[0].reciever: not a field of the schema',
    ]);
  });

  it('refuses a kind it has no schema for', () => {
    expect(schemaProblems({ apiVersion: 'v1', kind: 'Pod' })).toEqual(['v1 Pod: no schema known for this kind']);
  });
});
