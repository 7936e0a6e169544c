import { AlertmanagerConfig } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1/AlertmanagerConfig';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';

/**
 * Checks a Kubernetes object against its API schema, offline: the OpenAPI
 * schemas of Kubernetes and of Prometheus Operator's CRDs, compiled into the
 * kubernetes-models packages. The schemas accept fields they do not know, as
 * the API server does without strict field validation; a misspelt field
 * would then be dropped without a word. So the object is also walked beside
 * the validator: a field the validator never looked at is one its schema does
 * not have, and is reported too.
 */

interface Validating {
  readonly prototype: { validate(): void };
}

const MODELS: ReadonlyMap<string, Validating> = new Map<string, Validating>([
  ['v1 Namespace', Namespace],
  ['v1 ConfigMap', ConfigMap],
  ['v1 Secret', Secret],
  ['v1 Service', Service],
  ['apps/v1 Deployment', Deployment],
  ['policy/v1 PodDisruptionBudget', PodDisruptionBudget],
  ['autoscaling/v2 HorizontalPodAutoscaler', HorizontalPodAutoscaler],
  ['networking.k8s.io/v1 NetworkPolicy', NetworkPolicy],
  ['monitoring.coreos.com/v1 ServiceMonitor', ServiceMonitor],
  ['monitoring.coreos.com/v1 PrometheusRule', PrometheusRule],
  ['monitoring.coreos.com/v1alpha1 AlertmanagerConfig', AlertmanagerConfig],
]);

/** An object or array of the checked value, with the keys the validator read from it. */
interface Visited {
  readonly path: string;
  /** The object's own keys; null for an array, whose items are not fields. */
  readonly keys: readonly string[] | null;
  readonly read: Set<string>;
  /** The object or array holding this one, and the key it is under; absent for the whole value. */
  readonly parent?: { readonly node: Visited; readonly key: string };
}

/** Whether the validator got to this node: a field it never read holds nothing it checked. */
function reached(node: Visited): boolean {
  return node.parent === undefined || (node.parent.node.read.has(node.parent.key) && reached(node.parent.node));
}

/** A copy of `value` whose objects and arrays record the keys read from them. */
function tracked(value: unknown, path: string, visited: Visited[], parent?: Visited['parent']): unknown {
  if (value === null || typeof value !== 'object') return value;
  const node: Visited = { path, keys: Array.isArray(value) ? null : Object.keys(value), read: new Set<string>(), ...(parent === undefined ? {} : { parent }) };
  visited.push(node);
  const copy = Array.isArray(value)
    ? value.map((item, i) => tracked(item, `${path}[${i}]`, visited, { node, key: String(i) }))
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, tracked(v, `${path}.${k}`, visited, { node, key: k })]));
  return new Proxy(copy, {
    get(target, key, receiver) {
      if (typeof key === 'string') node.read.add(key);
      return Reflect.get(target, key, receiver) as unknown;
    },
    has(target, key) {
      if (typeof key === 'string') node.read.add(key);
      return Reflect.has(target, key);
    },
  });
}

/** ajv's `/spec/containers/0/name` as `.spec.containers[0].name`, the form unknown fields are reported in. */
function pathOf(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((token) => (/^\d+$/.test(token) ? `[${token}]` : `.${token.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('');
}

function validateOnce(model: Validating, object: unknown): string[] {
  const visited: Visited[] = [];
  const problems: string[] = [];
  try {
    model.prototype.validate.call(tracked(object, '', visited));
  } catch (err) {
    const errors = (err as { errors?: Array<{ instancePath: string; message?: string }> }).errors;
    if (errors === undefined) throw err;
    problems.push(...errors.map((e) => `${pathOf(e.instancePath)}: ${e.message ?? 'invalid'}`));
  }
  for (const node of visited) {
    if (node.keys === null || !reached(node)) continue;
    problems.push(...node.keys.filter((k) => !node.read.has(k)).map((k) => `${node.path}.${k}: not a field of the schema`));
  }
  return problems;
}

/**
 * The problems of one object against its schema, each naming its path; empty
 * when it is valid. An AlertmanagerConfig's child routes are free-form in the
 * CRD, so each is checked as the route it is, recursively.
 */
export function schemaProblems(object: { apiVersion?: unknown; kind?: unknown }): string[] {
  const id = `${String(object.apiVersion)} ${String(object.kind)}`;
  const model = MODELS.get(id);
  if (model === undefined) return [`${id}: no schema known for this kind`];
  if (id !== 'monitoring.coreos.com/v1alpha1 AlertmanagerConfig') return validateOnce(model, object);
  const problems: string[] = [];
  const check = (route: Record<string, unknown>, path: string) => {
    const children = (route['routes'] ?? []) as Array<Record<string, unknown>>;
    const withoutChildren = { ...route, routes: children.map(() => ({})) };
    const spec = { ...(object as { spec: Record<string, unknown> }).spec, route: withoutChildren };
    problems.push(...validateOnce(model, { ...object, spec }).map((p) => p.replace(/^\.spec\.route(?=[.[:])/, path)));
    children.forEach((child, i) => check(child, `${path}.routes[${i}]`));
  };
  check((object as { spec: { route: Record<string, unknown> } }).spec.route, '.spec.route');
  // The rest of the object is checked with every route: each problem there once.
  return [...new Set(problems)];
}
