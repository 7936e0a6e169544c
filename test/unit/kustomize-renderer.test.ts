import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configMapHash, renderKustomization, type K8sObject } from '../helpers/kustomize.js';
import type { DeploymentSpec } from '../helpers/kubernetes-shapes.js';

// The renderer that test/integration/kubernetes-manifests.test.ts reads
// deploy/kubernetes with: what it does as kustomize does, and what it refuses.

const specOf = <T>(object: K8sObject) => object['spec'] as T;

describe('the kustomize renderer of the tests', () => {
  function tree(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'sy-kustomize-'));
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    return dir;
  }
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: { name: app }
spec:
  template:
    spec:
      containers:
        - { name: app, image: app, args: [a, b], envFrom: [{ secretRef: { name: one } }, { secretRef: { name: two } }], volumeMounts: [{ name: config, mountPath: /config }, { name: data, mountPath: /data }] }
      volumes: [{ name: config, configMap: { name: cfg } }, { name: data, emptyDir: {} }]
`;
  const hpa = 'apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: { name: app }\nspec: { maxReplicas: 3 }\n';

  it('names a generated ConfigMap as kustomize 5 does, and points the pods at that name', () => {
    // kubectl kustomize (kustomize 5.5) names {switchyard.yaml: "a: 2\n"} cfg-f89927t8mc.
    expect(configMapHash({ 'switchyard.yaml': 'a: 2\n' })).toBe('f89927t8mc');
    const dir = tree({
      'base/kustomization.yaml': 'resources: [deployment.yaml]\nconfigMapGenerator: [{ name: cfg, files: [switchyard.yaml] }]\n',
      'base/deployment.yaml': deployment,
      'base/switchyard.yaml': 'a: 1\n',
      'overlay/kustomization.yaml': 'namespace: ns\nresources: [../base]\nconfigMapGenerator: [{ name: cfg, behavior: replace, files: [switchyard.yaml] }]\n',
      'overlay/switchyard.yaml': 'a: 2\n',
    });
    const objects = renderKustomization(join(dir, 'overlay'));
    expect(objects.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`)).toEqual(['Deployment ns/app', 'ConfigMap ns/cfg-f89927t8mc']);
    expect(specOf<DeploymentSpec>(objects[0] as K8sObject).template.spec.volumes[0]?.configMap?.name).toBe('cfg-f89927t8mc');
  });

  it('merges containers and mounts by key, puts what a patch adds first, replaces envFrom, and deletes what is marked $patch: delete', () => {
    const dir = tree({
      'kustomization.yaml': 'resources: [deployment.yaml, hpa.yaml]\npatches: [{ path: patch.yaml }, { path: no-hpa.yaml }]\n',
      'deployment.yaml': deployment,
      'hpa.yaml': hpa,
      'patch.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: { name: app }
spec:
  template:
    spec:
      containers:
        - name: app
          envFrom: [{ secretRef: { name: three } }]
          volumeMounts: [{ name: tls, mountPath: /tls }, { mountPath: /data, $patch: delete }]
      volumes: [{ name: data, $patch: delete }]
`,
      'no-hpa.yaml': 'apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: { name: app }\n$patch: delete\n',
    });
    const objects = renderKustomization(dir);
    expect(objects.map((o) => o.kind)).toEqual(['Deployment']);
    const pod = specOf<DeploymentSpec>(objects[0] as K8sObject).template.spec;
    expect(pod.containers[0]?.envFrom).toEqual([{ secretRef: { name: 'three' } }]);
    expect(pod.containers[0]?.args).toEqual(['a', 'b']);
    expect(pod.containers[0]?.volumeMounts.map((m) => m.mountPath)).toEqual(['/tls', '/config']);
    expect(pod.volumes.map((v) => v.name)).toEqual(['config']);
  });

  it('applies a JSON 6902 patch to its one target', () => {
    const dir = tree({
      'kustomization.yaml': 'resources: [hpa.yaml]\npatches: [{ path: ops.yaml, target: { group: autoscaling, version: v2, kind: HorizontalPodAutoscaler, name: app } }]\n',
      'hpa.yaml': hpa,
      'ops.yaml': '- { op: replace, path: /spec/maxReplicas, value: 5 }\n- { op: add, path: /spec/minReplicas, value: 2 }\n',
    });
    expect(renderKustomization(dir)[0]?.['spec']).toEqual({ maxReplicas: 5, minReplicas: 2 });
  });

  it('refuses, naming it, what it might render otherwise than kustomize', () => {
    const refusal = (files: Record<string, string>) => () => renderKustomization(tree({ 'deployment.yaml': deployment, 'hpa.yaml': hpa, ...files }));
    expect(refusal({ 'kustomization.yaml': 'resources: [deployment.yaml]\nimages: [{ name: app, newTag: "2" }]\n' })).toThrow(/"images" is outside the subset/);
    expect(
      refusal({
        'kustomization.yaml': 'resources: [deployment.yaml]\npatches: [{ path: p.yaml }]\n',
        'p.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: app }\nspec: { template: { spec: { containers: [{ name: app, ports: [{ containerPort: 1 }] }] } } }\n',
      }),
    ).toThrow(/does not know how kustomize merges the list "ports"/);
    expect(
      refusal({
        'kustomization.yaml': 'resources: [hpa.yaml]\npatches: [{ path: p.yaml }]\n',
        'p.yaml': 'apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: { name: app }\n$patch: delete\n---\napiVersion: v1\nkind: Service\nmetadata: { name: x }\n$patch: delete\n',
      }),
    ).toThrow(/one patch per file/);
    expect(
      refusal({
        'kustomization.yaml': 'resources: [hpa.yaml]\npatches: [{ path: p.yaml }]\n',
        'p.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: other }\nspec: { replicas: 1 }\n',
      }),
    ).toThrow(/patches apps\/v1 Deployment other, which is not among the resources/);
  });
});
