import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { readyWorkersNeeded } from '../../src/gateway/cluster/ready-workers.js';
import { buildOpenApiDocument } from '../../src/http/admin/openapi.js';
import { schemaProblems } from '../helpers/kubernetes-schema.js';
import { renderKustomization, type K8sObject } from '../helpers/kustomize.js';
import type { AmRoute, Container, DeploymentSpec, Mount, SecretKey, ServiceSpec, Volume, WebhookConfig } from '../helpers/kubernetes-shapes.js';
import { PACKAGE_VERSION } from '../helpers/package-version.js';

// deploy/kubernetes is rendered here as `kubectl kustomize` renders it (see
// test/helpers/kustomize.ts), every object is checked against the API schemas,
// and everything the objects say about the gateway is checked against the
// gateway: its config parser, its admin API, its drain, its alert rules.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DEPLOY = join(ROOT, 'deploy/kubernetes');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** The workload kustomizations, each with the monitoring kustomization that goes with its admin port. */
const WORKLOADS = {
  base: 'monitoring',
  'overlays/memory': 'monitoring',
  'overlays/redis-sentinel': 'monitoring',
  'overlays/tls': 'monitoring-tls',
} as const;
type Workload = keyof typeof WORKLOADS;
const FLEETS: readonly Workload[] = ['base', 'overlays/redis-sentinel', 'overlays/tls'];
const KUSTOMIZATIONS = [...Object.keys(WORKLOADS), 'monitoring', 'monitoring-tls'];

/** Rendered on first use, so a kustomization that does not render fails the tests that read it, each naming why. */
const rendered = new Map<string, K8sObject[]>();
function objectsOf(dir: string): K8sObject[] {
  if (!rendered.has(dir)) rendered.set(dir, renderKustomization(join(DEPLOY, dir)));
  return rendered.get(dir) as K8sObject[];
}

function all(objects: readonly K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

function one(objects: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name === undefined ? '' : ` ${name}`}, found ${found.length}`);
  return found[0] as K8sObject;
}

const specOf = <T>(object: K8sObject) => object['spec'] as T;
const deploymentOf = (dir: string) => specOf<DeploymentSpec>(one(objectsOf(dir), 'Deployment', 'switchyard'));
const podOf = (dir: string) => deploymentOf(dir).template.spec;
const containerOf = (dir: string): Container => {
  const containers = podOf(dir).containers;
  expect(containers).toHaveLength(1);
  return containers[0] as Container;
};
const volumeOf = (dir: string, mount: Mount): Volume => {
  const volume = podOf(dir).volumes.find((v) => v.name === mount.name);
  if (volume === undefined) throw new Error(`${dir}: no volume ${mount.name} for the mount at ${mount.mountPath}`);
  return volume;
};

/** Every key of `selector` is a label of `labels` with the same value. */
const selects = (selector: Record<string, string>, labels: Record<string, string> | undefined) => Object.entries(selector).every(([k, v]) => labels?.[k] === v);

interface DocumentedSecret {
  readonly type: string;
  readonly keys: readonly string[];
}

/** The Secrets docs/kubernetes.md tells teams to create: the rows of its table headed `| Secret | type | keys |`. */
function documentedSecrets(): ReadonlyMap<string, DocumentedSecret> {
  const lines = read('docs/kubernetes.md').split('\n');
  const start = lines.findIndex((l) => l.startsWith('| Secret | type | keys |'));
  expect(start, 'docs/kubernetes.md has the table of Secrets').toBeGreaterThan(0);
  const rows = new Map<string, DocumentedSecret>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const name = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1];
    const type = /^`([^`]+)`$/.exec(cells[1] ?? '')?.[1];
    if (name === undefined || type === undefined) throw new Error(`docs/kubernetes.md: a Secrets row without a name and type: ${line}`);
    rows.set(name, { type, keys: [...(cells[2] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] as string) });
  }
  return rows;
}

/** A Secret the kustomization ships, as its keys and values: trial values, written readable in stringData. */
function shippedSecret(dir: string, name: string): Record<string, string> | undefined {
  const secret = all(objectsOf(dir), 'Secret').find((s) => s.metadata.name === name);
  if (secret === undefined) return undefined;
  expect(Object.keys(secret).sort(), `${dir}: Secret ${name}`).toEqual(['apiVersion', 'kind', 'metadata', 'stringData', 'type']);
  return secret['stringData'] as Record<string, string>;
}

/** A stand-in value of the right form for a documented key the team fills in. */
const standIn = (key: string) => (key.endsWith('_URL') ? 'redis://redis.example:6379' : `stand-in-for-${key.toLowerCase()}`);

/** The container's environment: each key of each Secret it reads, the shipped value or a stand-in. */
function environmentOf(dir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of containerOf(dir).envFrom ?? []) {
    const name = source.secretRef?.name as string;
    const shipped = shippedSecret(dir, name);
    const keys = shipped === undefined ? (documentedSecrets().get(name)?.keys ?? []) : Object.keys(shipped);
    for (const key of keys) env[key] = shipped?.[key] ?? standIn(key);
  }
  return env;
}

/** The config file the Deployment's serve reads: its path, its text from the mounted ConfigMap, and the gateway's reading of it. */
function configOf(dir: string): { path: string; text: string; config: Config } {
  const args = containerOf(dir).args;
  const path = args[args.indexOf('--config') + 1] as string;
  const mount = containerOf(dir).volumeMounts.find((m) => m.mountPath === posix.dirname(path));
  if (mount === undefined) throw new Error(`${dir}: nothing is mounted at ${posix.dirname(path)}`);
  const configMap = one(objectsOf(dir), 'ConfigMap', volumeOf(dir, mount).configMap?.name);
  const text = (configMap['data'] as Record<string, string>)[posix.basename(path)];
  if (text === undefined) throw new Error(`${dir}: ConfigMap ${configMap.metadata.name} has no ${posix.basename(path)}`);
  return { path, text, config: parseConfig(text, environmentOf(dir), `${dir}/switchyard.yaml`, posix.dirname(path)) };
}

/** The strings anywhere in a parsed YAML value. */
function stringLeaves(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(stringLeaves);
  return [];
}

/** An amount of CPU ("2", "1500m") in cores. */
function cores(quantity: string): number {
  return quantity.endsWith('m') ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
}

describe('deploy/kubernetes', () => {
  it('holds the base, the memory, redis-sentinel and tls overlays and the two monitoring kustomizations', () => {
    const found = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? found(join(dir, e.name)) : e.name === 'kustomization.yaml' ? [relative(DEPLOY, dir)] : []));
    expect(found(DEPLOY).sort()).toEqual([...KUSTOMIZATIONS].sort());
    for (const dir of KUSTOMIZATIONS) expect(objectsOf(dir).length, dir).toBeGreaterThanOrEqual(3);
  });

  it('every object is valid against its Kubernetes or Prometheus Operator API schema, without a field the schema lacks', () => {
    const problems = KUSTOMIZATIONS.flatMap((dir) => objectsOf(dir).flatMap((o) => schemaProblems(o).map((p) => `${dir}: ${o.kind} ${o.metadata.name}${p}`)));
    expect(problems).toEqual([]);
    const kinds = new Set(KUSTOMIZATIONS.flatMap((dir) => objectsOf(dir).map((o) => o.kind)));
    expect([...kinds].sort()).toEqual(['AlertmanagerConfig', 'ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Namespace', 'NetworkPolicy', 'PodDisruptionBudget', 'PrometheusRule', 'Secret', 'Service', 'ServiceMonitor']);
  });

  it('runs the image switchyard at the version in package.json', () => {
    expect(PACKAGE_VERSION).toMatch(/^\d+\.\d+\.\d+/);
    for (const dir of Object.keys(WORKLOADS)) expect(podOf(dir).containers.map((c) => c.image), dir).toEqual([`switchyard:${PACKAGE_VERSION}`]);
  });

  it("gives every overlay a config the gateway's parser accepts, with the same services, and secrets only as ${VAR}", () => {
    const services = Object.keys(WORKLOADS).map((dir) => configOf(dir).config.services);
    for (const s of services) expect(s).toEqual(services[0]);
    for (const dir of Object.keys(WORKLOADS)) {
      const raw = parse(configOf(dir).text) as { admin: { tokens: Array<{ token: string }> }; store?: { redis: { keyPrefix?: string } } };
      const { keyPrefix: _prefix, ...coordinates } = raw.store?.redis ?? {};
      const secretFields = [...raw.admin.tokens.map((t) => t.token), ...stringLeaves(coordinates)];
      expect(secretFields.length, dir).toBeGreaterThanOrEqual(3);
      for (const field of secretFields) expect(field, `${dir}: a secret written in the ConfigMap`).toMatch(/^\$\{[A-Z0-9_]+\}$/);
    }
    expect(configOf('overlays/memory').config.store.redis).toBeUndefined();
    expect(configOf('base').config.store.redis?.url).toBe('redis://redis.example:6379');
    expect(configOf('overlays/redis-sentinel').config.store.redis?.sentinels).toHaveLength(3);
  });

  it("declares the config's listener ports, and probes /readyz and /healthz on the admin port in its scheme", () => {
    const adminPaths = Object.keys(buildOpenApiDocument().paths);
    for (const dir of Object.keys(WORKLOADS) as Workload[]) {
      const { config } = configOf(dir);
      const container = containerOf(dir);
      const port = (name: string) => container.ports.find((p) => p.name === name)?.containerPort;
      expect([port('proxy'), port('admin')], dir).toEqual([config.proxy.listen.port, config.admin.listen.port]);
      expect([config.proxy.listen.host, config.admin.listen.host], `${dir}: listeners reachable from outside the pod`).toEqual(['0.0.0.0', '0.0.0.0']);
      const scheme = config.admin.tls === undefined ? 'HTTP' : 'HTTPS';
      for (const [probe, path] of [[container.readinessProbe, '/readyz'], [container.livenessProbe, '/healthz']] as const) {
        expect({ ...probe.httpGet, scheme: probe.httpGet.scheme ?? 'HTTP' }, dir).toEqual({ path, port: 'admin', scheme });
        expect(adminPaths).toContain(path);
      }
    }
  });

  it('serves the mounted config with one proxy worker per core of the CPU limit, requests equal to limits', () => {
    expect(existsSync(join(ROOT, 'src/cli/main.ts'))).toBe(true);
    expect(read('Dockerfile')).toMatch(/^WORKDIR \/app$/m);
    for (const dir of Object.keys(WORKLOADS)) {
      const container = containerOf(dir);
      const { path, config } = configOf(dir);
      expect(container.command, dir).toEqual(['node', 'dist/src/cli/main.js']);
      const workers = Number(container.args[container.args.indexOf('--workers') + 1]);
      expect(container.args, dir).toEqual(['serve', '--config', path, '--workers', String(workers)]);
      expect(workers, `${dir}: --workers matches the CPU limit`).toBe(cores(container.resources.limits['cpu'] as string));
      expect(readyWorkersNeeded(config, workers)).toBeGreaterThanOrEqual(1);
      expect(container.resources.requests, dir).toEqual(container.resources.limits);
      expect(Object.keys(container.resources.limits).sort()).toEqual(['cpu', 'memory']);
    }
  });

  it('gives a terminating replica time for its preStop sleep, the drain delay, the drain timeout and the last flush', () => {
    for (const dir of Object.keys(WORKLOADS)) {
      const { config } = configOf(dir);
      const sleepS = containerOf(dir).lifecycle?.preStop?.sleep?.seconds;
      expect(sleepS, `${dir}: a preStop sleep`).toBeGreaterThan(0);
      // The gateway gives its proxy workers 5 s past the drain before it kills them, then flushes and closes.
      const neededS = (sleepS as number) + (config.proxy.drainDelay + config.proxy.drainTimeout) / 1000 + 5;
      expect(podOf(dir).terminationGracePeriodSeconds, dir).toBeGreaterThanOrEqual(neededS);
    }
  });

  it('runs as the image user by number, read-only, without privilege escalation, capabilities or a service account token, under RuntimeDefault seccomp', () => {
    // The Dockerfile's USER node is uid 1000 in the node images.
    expect(read('Dockerfile')).toMatch(/^USER node$/m);
    const namespace = one(objectsOf('base'), 'Namespace');
    expect(namespace.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const dir of Object.keys(WORKLOADS)) {
      const pod = podOf(dir);
      expect(pod.securityContext, dir).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.automountServiceAccountToken, dir).toBe(false);
      const { securityContext } = containerOf(dir);
      expect(securityContext, dir).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    }
  });

  it('lets the gateway write only to its snapshot directory, on an emptyDir, and nowhere on the in-memory store', () => {
    for (const dir of Object.keys(WORKLOADS)) {
      const { config } = configOf(dir);
      const container = containerOf(dir);
      const writable = container.volumeMounts.filter((m) => m.readOnly !== true);
      for (const mount of writable) expect(volumeOf(dir, mount).emptyDir, `${dir}: ${mount.mountPath} is a writable emptyDir`).toBeDefined();
      const writes = config.store.redis !== undefined && config.snapshot.enabled ? [config.snapshot.dir] : [];
      expect(writable.map((m) => m.mountPath), dir).toEqual(writes);
      expect(podOf(dir).volumes.map((v) => v.name).sort(), `${dir}: every volume is mounted`).toEqual(container.volumeMounts.map((m) => m.name).sort());
    }
    expect(configOf('overlays/memory').config.store.redis).toBeUndefined();
  });

  it('keeps a fleet at 3 replicas or more, spread over nodes and zones, rolled one at a time, with a disruption budget and a CPU autoscaler; the trial has one replica and neither', () => {
    for (const dir of FLEETS) {
      const deployment = deploymentOf(dir);
      const labels = deployment.template.metadata.labels;
      expect(selects(deployment.selector.matchLabels, labels), dir).toBe(true);
      expect(deployment.replicas, dir).toBeGreaterThanOrEqual(3);
      expect(deployment.strategy.rollingUpdate.maxUnavailable, dir).toBe(0);
      const spread = deployment.template.spec.topologySpreadConstraints ?? [];
      expect(spread.map((c) => c.topologyKey).sort(), dir).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
      for (const c of spread) expect(selects(c.labelSelector.matchLabels, labels), dir).toBe(true);
      const hpa = specOf<{ scaleTargetRef: unknown; minReplicas: number; maxReplicas: number; metrics: Array<{ resource?: { name: string; target: { type: string } } }> }>(one(objectsOf(dir), 'HorizontalPodAutoscaler'));
      expect(hpa.scaleTargetRef, dir).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'switchyard' });
      expect(hpa.minReplicas, dir).toBeGreaterThanOrEqual(3);
      expect(hpa.maxReplicas, dir).toBeGreaterThan(hpa.minReplicas);
      expect(hpa.metrics.map((m) => [m.resource?.name, m.resource?.target.type]), dir).toEqual([['cpu', 'Utilization']]);
      const pdb = specOf<{ maxUnavailable: number; selector: { matchLabels: Record<string, string> } }>(one(objectsOf(dir), 'PodDisruptionBudget'));
      expect(selects(pdb.selector.matchLabels, labels), dir).toBe(true);
      expect(pdb.maxUnavailable, dir).toBe(1);
    }
    expect(deploymentOf('overlays/memory').replicas).toBe(1);
    expect(all(objectsOf('overlays/memory'), 'HorizontalPodAutoscaler')).toEqual([]);
    expect(all(objectsOf('overlays/memory'), 'PodDisruptionBudget')).toEqual([]);
  });

  it("has a Service for the proxy port and one for the admin port, selecting the Deployment's pods by the ports' names", () => {
    for (const dir of Object.keys(WORKLOADS)) {
      const labels = deploymentOf(dir).template.metadata.labels;
      const portNames = containerOf(dir).ports.map((p) => p.name);
      const services = all(objectsOf(dir), 'Service').map((s) => ({ name: s.metadata.name, spec: specOf<ServiceSpec>(s) }));
      expect(services.map((s) => [s.name, s.spec.ports.map((p) => p.targetPort)]), dir).toEqual([
        ['switchyard', ['proxy']],
        ['switchyard-admin', ['admin']],
      ]);
      for (const { spec } of services) {
        expect(selects(spec.selector, labels), dir).toBe(true);
        for (const p of spec.ports) expect(portNames).toContain(p.targetPort);
      }
    }
  });

  it('opens the proxy port to every client and the admin port only to the monitoring namespace and labelled pods', () => {
    for (const dir of Object.keys(WORKLOADS)) {
      const policy = specOf<{ podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: Array<{ from?: unknown[]; ports: Array<{ port: string }> }> }>(one(objectsOf(dir), 'NetworkPolicy'));
      expect(selects(policy.podSelector.matchLabels, deploymentOf(dir).template.metadata.labels), dir).toBe(true);
      expect(policy.policyTypes).toEqual(['Ingress']);
      const portNames = containerOf(dir).ports.map((p) => p.name);
      for (const rule of policy.ingress) for (const p of rule.ports) expect(portNames, dir).toContain(p.port);
      expect(policy.ingress.map((r) => [r.ports.map((p) => p.port), r.from]), dir).toEqual([
        [['proxy'], undefined],
        [['admin'], [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }, { podSelector: { matchLabels: { 'switchyard-admin-client': 'true' } } }]],
      ]);
    }
  });

  it('reads only Secrets it ships or that docs/kubernetes.md lists with the keys read, and ships none but trial values', () => {
    const documented = documentedSecrets();
    const used = new Set<string>();
    for (const dir of KUSTOMIZATIONS) {
      const references: Array<{ name: string; key?: string }> = [];
      for (const deployment of all(objectsOf(dir), 'Deployment')) {
        const pod = specOf<DeploymentSpec>(deployment).template.spec;
        for (const source of pod.containers.flatMap((c) => c.envFrom ?? [])) references.push({ name: source.secretRef?.name as string });
        for (const volume of pod.volumes) if (volume.secret !== undefined) references.push({ name: volume.secret.secretName });
        expect(pod.containers.flatMap((c) => c.env ?? []), `${dir}: the environment comes from Secrets only`).toEqual([]);
      }
      for (const monitor of all(objectsOf(dir), 'ServiceMonitor')) {
        for (const endpoint of specOf<{ endpoints: Array<{ tlsConfig?: { ca: { secret: SecretKey } } }> }>(monitor).endpoints) if (endpoint.tlsConfig !== undefined) references.push(endpoint.tlsConfig.ca.secret);
      }
      for (const amc of all(objectsOf(dir), 'AlertmanagerConfig')) {
        for (const hook of specOf<{ receivers: Array<{ webhookConfigs?: WebhookConfig[] }> }>(amc).receivers.flatMap((r) => r.webhookConfigs ?? [])) {
          references.push(hook.httpConfig.authorization.credentials);
          if (hook.httpConfig.tlsConfig !== undefined) references.push(hook.httpConfig.tlsConfig.ca.secret);
        }
      }
      expect(references.length, dir).toBeGreaterThan(0);
      for (const { name, key } of references) {
        const shipped = shippedSecret(dir, name);
        const keys = shipped === undefined ? documented.get(name)?.keys : Object.keys(shipped);
        expect(keys, `${dir}: Secret ${name} is shipped or listed in docs/kubernetes.md`).toBeDefined();
        if (key !== undefined) expect(keys, `${dir}: Secret ${name} has the key ${key}`).toContain(key);
        used.add(name);
      }
      for (const secret of all(objectsOf(dir), 'Secret')) {
        const values = shippedSecret(dir, secret.metadata.name) as Record<string, string>;
        expect(Object.keys(values).sort(), `${dir}: shipped ${secret.metadata.name} has the documented keys`).toEqual([...(documented.get(secret.metadata.name)?.keys ?? [])].sort());
        for (const value of Object.values(values)) expect(value, `${dir}: a shipped Secret holds a trial value`).toMatch(/change-me/);
      }
    }
    expect([...documented.keys()].sort(), 'every Secret docs/kubernetes.md lists is read').toEqual([...used].sort());
  });

  it('reads TLS files from mounted kubernetes.io/tls Secrets in the tls overlay, which serves the proxy Service on 443', () => {
    const documented = documentedSecrets();
    let files = 0;
    for (const dir of Object.keys(WORKLOADS) as Workload[]) {
      const { config } = configOf(dir);
      for (const tls of [config.proxy.tls, config.admin.tls]) {
        for (const file of [tls?.cert, tls?.key, tls?.ca].filter((f): f is string => f !== undefined)) {
          const mount = containerOf(dir).volumeMounts.find((m) => m.mountPath === posix.dirname(file));
          if (mount === undefined) throw new Error(`${dir}: ${file} is on no mounted volume`);
          expect(mount.readOnly, `${dir}: ${mount.mountPath}`).toBe(true);
          const secretName = volumeOf(dir, mount).secret?.secretName as string;
          expect(documented.get(secretName)?.type, `${dir}: ${file} comes from a kubernetes.io/tls Secret`).toBe('kubernetes.io/tls');
          expect(documented.get(secretName)?.keys, `${dir}: ${file}`).toContain(basename(file));
          files++;
        }
      }
      const proxyService = specOf<ServiceSpec>(one(objectsOf(dir), 'Service', 'switchyard'));
      expect(proxyService.ports[0]?.port, dir).toBe(config.proxy.tls === undefined ? 80 : 443);
    }
    expect(files).toBe(4);
    expect(configOf('overlays/tls').config.admin.tls?.clientAuth, 'kubelet probes present no client certificate').toBeUndefined();
  });

  it("scrapes /metrics on the admin Service's named port, over HTTPS exactly where the admin port speaks it", () => {
    for (const [workload, monitoring] of Object.entries(WORKLOADS) as Array<[Workload, string]>) {
      const { config } = configOf(workload);
      const services = all(objectsOf(workload), 'Service');
      const monitor = one(objectsOf(monitoring), 'ServiceMonitor');
      const spec = specOf<{ selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string; path: string; scheme?: string; tlsConfig?: { serverName: string } }> }>(monitor);
      const selected = services.filter((s) => selects(spec.selector.matchLabels, s.metadata.labels));
      expect(selected.map((s) => s.metadata.name), workload).toEqual(['switchyard-admin']);
      expect(monitor.metadata.namespace).toBe((selected[0] as K8sObject).metadata.namespace);
      const portNames = specOf<ServiceSpec>(selected[0] as K8sObject).ports.map((p) => p.name);
      expect(Object.keys(buildOpenApiDocument().paths)).toContain('/metrics');
      for (const endpoint of spec.endpoints) {
        expect(portNames).toContain(endpoint.port);
        expect(endpoint.path).toBe('/metrics');
        expect(endpoint.scheme ?? 'http', `${workload} with ${monitoring}`).toBe(config.admin.tls === undefined ? 'http' : 'https');
        if (endpoint.tlsConfig !== undefined) expect(endpoint.tlsConfig.serverName).toBe(`switchyard-admin.${monitor.metadata.namespace}.svc`);
      }
    }
  });

  it('alerts with the rules of config/prometheus/alerts.yml, each labelled with its namespace', () => {
    const alerts = parse(read('config/prometheus/alerts.yml')) as { groups: Array<{ rules: Array<{ labels?: Record<string, string> }> }> };
    for (const dir of ['monitoring', 'monitoring-tls']) {
      const rule = one(objectsOf(dir), 'PrometheusRule');
      const namespace = rule.metadata.namespace as string;
      expect(namespace).toBe(one(objectsOf('base'), 'Deployment').metadata.namespace);
      const expected = alerts.groups.map((g) => ({ ...g, rules: g.rules.map((r) => ({ ...r, labels: { ...r.labels, namespace } })) }));
      expect(specOf<{ groups: unknown }>(rule).groups, dir).toEqual(expected);
    }
  });

  it("routes alerts as config/alertmanager/alertmanager.yml does, to the admin Service's webhook with the alertmanager token", () => {
    const am = parse(read('config/alertmanager/alertmanager.yml')) as {
      route: { receiver: string; group_by: string[]; group_wait: string; group_interval: string; repeat_interval: string; routes: Array<{ receiver: string; matchers: string[]; group_by?: string[] }> };
      receivers: Array<{ name: string; webhook_configs?: Array<{ send_resolved: boolean }> }>;
    };
    const matcher = (text: string) => {
      const m = /^(\w+)(=~|!~|!=|=)"(.*)"$/.exec(text);
      if (m === null) throw new Error(`not a matcher: ${text}`);
      return { name: m[1] as string, matchType: m[2] as string, value: m[3] as string };
    };
    const expectedRoute: AmRoute = {
      receiver: am.route.receiver,
      groupBy: am.route.group_by,
      groupWait: am.route.group_wait,
      groupInterval: am.route.group_interval,
      repeatInterval: am.route.repeat_interval,
      routes: am.route.routes.map((r) => ({ receiver: r.receiver, matchers: r.matchers.map(matcher), ...(r.group_by === undefined ? {} : { groupBy: r.group_by }) })),
    };
    const openapi = buildOpenApiDocument().paths as Record<string, Record<string, unknown>>;
    for (const [workload, monitoring] of Object.entries(WORKLOADS) as Array<[Workload, string]>) {
      const { config, text } = configOf(workload);
      const amc = one(objectsOf(monitoring), 'AlertmanagerConfig');
      const spec = specOf<{ route: AmRoute; receivers: Array<{ name: string; webhookConfigs?: WebhookConfig[] }> }>(amc);
      expect(spec.route, monitoring).toEqual(expectedRoute);
      expect(spec.receivers.map((r) => r.name)).toEqual(am.receivers.map((r) => r.name));
      const hooks = spec.receivers.flatMap((r) => r.webhookConfigs ?? []);
      expect(hooks).toHaveLength(1);
      const hook = hooks[0] as WebhookConfig;
      const admin = one(objectsOf(workload), 'Service', 'switchyard-admin');
      const url = new URL(hook.url);
      expect(url.protocol, `${workload} with ${monitoring}`).toBe(config.admin.tls === undefined ? 'http:' : 'https:');
      expect(url.hostname).toBe(`${admin.metadata.name}.${admin.metadata.namespace}.svc`);
      expect(Number(url.port)).toBe(specOf<ServiceSpec>(admin).ports[0]?.port);
      expect(openapi[url.pathname]?.['post'], url.pathname).toBeDefined();
      expect(hook.sendResolved).toBe(false);
      // The credentials are the variable the config's alertmanager token reads, from the Secret the Deployment reads it from.
      const raw = parse(text) as { admin: { tokens: Array<{ name: string; token: string }> } };
      const variable = /^\$\{([A-Z0-9_]+)\}$/.exec(raw.admin.tokens.find((t) => t.name === 'alertmanager')?.token ?? '')?.[1];
      expect(hook.httpConfig.authorization).toEqual({ type: 'Bearer', credentials: { name: 'switchyard-tokens', key: variable } });
      expect(containerOf(workload).envFrom?.map((s) => s.secretRef?.name)).toContain('switchyard-tokens');
      expect(config.admin.tokens.find((t) => t.name === 'alertmanager')?.role).toBe('operator');
    }
  });
});
