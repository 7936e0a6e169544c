import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

/**
 * Renders a kustomization as `kubectl kustomize` (kustomize v5) does, for the
 * subset deploy/kubernetes uses: `namespace`, `resources` (files and
 * directories), `patches` (a strategic merge patch naming its object, or a
 * JSON 6902 patch with a `target`) and `configMapGenerator` (`files`,
 * `behavior: create | replace`). Anything outside that subset is refused with
 * an error naming it, so the manifests cannot drift into what this renderer
 * would get wrong. It runs in the test process: no kubectl, whose kustomize
 * differs between releases (Debian's kubectl 1.20 carries kustomize 2.0.3,
 * which renders these overlays wrongly), and nothing downloaded.
 */

export type K8sObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & { name: string; namespace?: string; labels?: Record<string, string> };
};

interface Rendered {
  readonly objects: K8sObject[];
  /** Names of the ConfigMaps made by a generator: they get a content hash suffix once the whole tree is rendered. */
  readonly generated: Set<string>;
}

const FIELDS = new Set(['namespace', 'resources', 'patches', 'configMapGenerator']);
const CLUSTER_SCOPED = new Set(['Namespace']);

/** List fields a strategic merge patch merges item by item in Kubernetes, with their merge key. */
const MERGED_LISTS: Readonly<Record<string, string>> = { containers: 'name', volumes: 'name', volumeMounts: 'mountPath' };
/** List fields Kubernetes replaces whole in a strategic merge patch. */
const REPLACED_LISTS = new Set(['envFrom', 'args', 'command']);

export class KustomizeError extends Error {}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

function idOf(object: { apiVersion?: unknown; kind?: unknown; metadata?: unknown }): string {
  const name = isObject(object.metadata) ? object.metadata['name'] : undefined;
  return `${String(object.apiVersion)} ${String(object.kind)} ${String(name)}`;
}

function readYamlObjects(file: string): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  return docs.flatMap((doc) => {
    if (doc.errors.length > 0) throw new KustomizeError(`${file}: not valid YAML: ${doc.errors[0]?.message}`);
    const value: unknown = doc.toJS();
    if (value === null) return [];
    if (!isObject(value) || typeof value['apiVersion'] !== 'string' || typeof value['kind'] !== 'string' || !isObject(value['metadata']) || typeof value['metadata']['name'] !== 'string') {
      throw new KustomizeError(`${file}: every document must be an object with apiVersion, kind and metadata.name`);
    }
    return [value as K8sObject];
  });
}

/**
 * kustomize's name suffix for a generated ConfigMap: the first 10 hex digits
 * of the SHA-256 of Go's JSON of {data, kind, name}, with 0, 1, 3, a and e
 * replaced so the suffix cannot read as a word or a number. kustomize 5 looks
 * the name up under a path it never finds, so the name it hashes is empty.
 */
export function configMapHash(data: Readonly<Record<string, string>>): string {
  const sortedData = Object.fromEntries(Object.keys(data).sort().map((k) => [k, data[k]]));
  // Go's encoding/json escapes these where JSON.stringify does not.
  const json = JSON.stringify({ data: sortedData, kind: 'ConfigMap', name: '' }).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const swap: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' };
  return [...createHash('sha256').update(json).digest('hex').slice(0, 10)].map((c) => swap[c] ?? c).join('');
}

function mergeList(field: string, target: unknown, patch: unknown[], where: string): unknown[] {
  const key = MERGED_LISTS[field];
  if (key === undefined) {
    if (!REPLACED_LISTS.has(field)) throw new KustomizeError(`${where}: this renderer does not know how kustomize merges the list "${field}"`);
    return patch;
  }
  const result = Array.isArray(target) ? [...target] : [];
  // kustomize puts the items a patch adds before the ones it had, in the patch's order.
  const added: unknown[] = [];
  for (const item of patch) {
    if (!isObject(item) || item[key] === undefined) throw new KustomizeError(`${where}: every item of "${field}" needs its merge key "${key}"`);
    const at = result.findIndex((existing) => isObject(existing) && existing[key] === item[key]);
    if (item['$patch'] === 'delete') {
      if (at < 0) throw new KustomizeError(`${where}: no ${field} item with ${key} ${String(item[key])} to delete`);
      result.splice(at, 1);
    } else if (at < 0) {
      added.push(item);
    } else {
      result[at] = mergeStrategic(result[at], item, `${where}.${field}`);
    }
  }
  return [...added, ...result];
}

function mergeStrategic(target: unknown, patch: Record<string, unknown>, where: string): Record<string, unknown> {
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) throw new KustomizeError(`${where}: the directive ${key} is only supported on a whole object or a merged list item`);
    if (Array.isArray(value)) result[key] = mergeList(key, result[key], value, where);
    else if (isObject(value)) result[key] = mergeStrategic(result[key], value, `${where}.${key}`);
    else result[key] = value;
  }
  return result;
}

/** RFC 6902 `add` and `replace`, the operations the overlays use. */
function applyJsonPatch(object: K8sObject, ops: unknown[], where: string): K8sObject {
  const copy = structuredClone(object);
  for (const op of ops) {
    if (!isObject(op) || (op['op'] !== 'add' && op['op'] !== 'replace') || typeof op['path'] !== 'string') {
      throw new KustomizeError(`${where}: only add and replace operations with a path are supported`);
    }
    const tokens = op['path'].split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = tokens.pop();
    let parent: unknown = copy;
    for (const token of tokens) {
      parent = Array.isArray(parent) ? parent[Number(token)] : isObject(parent) ? parent[token] : undefined;
      if (parent === undefined) throw new KustomizeError(`${where}: ${op['path']}: no such path in ${idOf(object)}`);
    }
    if (last === undefined || !(isObject(parent) || Array.isArray(parent))) throw new KustomizeError(`${where}: ${op['path']}: no such path in ${idOf(object)}`);
    if (op['op'] === 'replace' && !(last in parent)) throw new KustomizeError(`${where}: ${op['path']}: nothing to replace in ${idOf(object)}`);
    if (Array.isArray(parent)) {
      if (op['op'] === 'add') parent.splice(last === '-' ? parent.length : Number(last), 0, op['value']);
      else parent[Number(last)] = op['value'];
    } else {
      parent[last] = op['value'];
    }
  }
  return copy;
}

function loadKustomization(dir: string): Record<string, unknown> {
  const file = join(dir, 'kustomization.yaml');
  if (!existsSync(file)) throw new KustomizeError(`${dir}: no kustomization.yaml`);
  const kustomization: unknown = parse(readFileSync(file, 'utf8'));
  if (!isObject(kustomization)) throw new KustomizeError(`${file}: not a mapping`);
  for (const field of Object.keys(kustomization)) {
    if (!FIELDS.has(field)) throw new KustomizeError(`${file}: "${field}" is outside the subset this renderer supports (${[...FIELDS].join(', ')})`);
  }
  return kustomization;
}

function stringList(value: unknown, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new KustomizeError(`${what}: must be a list of paths`);
  return value;
}

/** The objects of a kustomization's resources: its files, and its directories rendered in turn. */
function loadResources(dir: string, kustomization: Record<string, unknown>): Rendered {
  const objects: K8sObject[] = [];
  const generated = new Set<string>();
  for (const entry of stringList(kustomization['resources'], `${dir}: resources`)) {
    const path = join(dir, entry);
    if (existsSync(path) && statSync(path).isDirectory()) {
      const base = renderTree(path);
      objects.push(...base.objects);
      for (const name of base.generated) generated.add(name);
    } else {
      objects.push(...readYamlObjects(path));
    }
  }
  const seen = new Set<string>();
  for (const object of objects) {
    const id = idOf(object);
    if (seen.has(id)) throw new KustomizeError(`${dir}: ${id} is defined twice`);
    seen.add(id);
  }
  return { objects, generated };
}

/** One configMapGenerator entry: a new ConfigMap of its files, or new data for one a base generated. */
function applyGenerator(dir: string, generator: unknown, { objects, generated }: Rendered): void {
  if (!isObject(generator) || typeof generator['name'] !== 'string') throw new KustomizeError(`${dir}: a configMapGenerator needs a name`);
  const { name, behavior = 'create' } = generator as { name: string; behavior?: string };
  for (const key of Object.keys(generator)) if (!['name', 'behavior', 'files'].includes(key)) throw new KustomizeError(`${dir}: configMapGenerator ${name}: "${key}" is not supported`);
  const data = Object.fromEntries(stringList(generator['files'], `${dir}: configMapGenerator ${name}`).map((f) => [basename(f), readFileSync(join(dir, f), 'utf8')]));
  const at = objects.findIndex((o) => o.kind === 'ConfigMap' && o.metadata.name === name && generated.has(name));
  if (behavior === 'create') {
    if (at >= 0) throw new KustomizeError(`${dir}: configMapGenerator ${name} exists already (use behavior: replace)`);
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data });
    generated.add(name);
  } else if (behavior === 'replace') {
    if (at < 0) throw new KustomizeError(`${dir}: configMapGenerator ${name}: no generated ConfigMap of that name to replace`);
    objects[at] = { ...(objects[at] as K8sObject), data };
  } else {
    throw new KustomizeError(`${dir}: configMapGenerator ${name}: behavior "${behavior}" is not supported`);
  }
}

/** One `patches` entry, applied to `objects` in place. */
function applyPatch(dir: string, patch: unknown, objects: K8sObject[]): void {
  if (!isObject(patch) || typeof patch['path'] !== 'string') throw new KustomizeError(`${dir}: every patch needs a path`);
  const where = join(dir, patch['path']);
  const docs = parseAllDocuments(readFileSync(where, 'utf8'));
  // kustomize 5.5 crashes on a patch file holding several deletions: one object a file.
  if (docs.length !== 1) throw new KustomizeError(`${where}: one patch per file`);
  const body: unknown = docs[0]?.toJS();
  const target = patch['target'];
  if (target !== undefined) {
    if (!isObject(target) || !Array.isArray(body)) throw new KustomizeError(`${where}: a patch with a target must be a JSON 6902 list of operations`);
    const apiVersion = target['group'] === undefined ? target['version'] : `${String(target['group'])}/${String(target['version'])}`;
    const matches = objects.flatMap((o, i) => (o.apiVersion === apiVersion && o.kind === target['kind'] && o.metadata.name === target['name'] ? [i] : []));
    if (matches.length !== 1) throw new KustomizeError(`${where}: the target must match exactly one object (matched ${matches.length})`);
    const i = matches[0] as number;
    objects[i] = applyJsonPatch(objects[i] as K8sObject, body, where);
    return;
  }
  if (!isObject(body)) throw new KustomizeError(`${where}: a strategic merge patch must be one object`);
  const id = idOf(body);
  const i = objects.findIndex((o) => idOf(o) === id);
  if (i < 0) throw new KustomizeError(`${where}: patches ${id}, which is not among the resources`);
  if (body['$patch'] === 'delete') objects.splice(i, 1);
  else objects[i] = mergeStrategic(objects[i], body, where) as K8sObject;
}

function renderTree(dir: string): Rendered {
  const kustomization = loadKustomization(dir);
  const rendered = loadResources(dir, kustomization);
  for (const generator of (kustomization['configMapGenerator'] ?? []) as unknown[]) applyGenerator(dir, generator, rendered);
  for (const patch of (kustomization['patches'] ?? []) as unknown[]) applyPatch(dir, patch, rendered.objects);
  const namespace = kustomization['namespace'];
  if (namespace !== undefined) {
    if (typeof namespace !== 'string') throw new KustomizeError(`${dir}: namespace must be a string`);
    for (const object of rendered.objects) if (!CLUSTER_SCOPED.has(object.kind)) object.metadata = { ...object.metadata, namespace };
  }
  return rendered;
}

/** The objects `kubectl kustomize DIR` prints (which it sorts by kind; these keep the order of the resources). */
export function renderKustomization(dir: string): K8sObject[] {
  const { objects, generated } = renderTree(dir);
  const renamed = new Map<string, string>();
  const out = objects.map((object) => {
    if (object.kind !== 'ConfigMap' || !generated.has(object.metadata.name)) return object;
    const name = `${object.metadata.name}-${configMapHash(object['data'] as Record<string, string>)}`;
    renamed.set(object.metadata.name, name);
    return { ...object, metadata: { ...object.metadata, name } };
  });
  // The generated names are referred to by the pods' configMap volumes.
  for (const object of out) {
    const template = (object['spec'] as { template?: { spec?: { volumes?: Array<{ configMap?: { name: string } }> } } } | undefined)?.template;
    for (const volume of template?.spec?.volumes ?? []) {
      const name = volume.configMap === undefined ? undefined : renamed.get(volume.configMap.name);
      if (name !== undefined && volume.configMap !== undefined) volume.configMap = { ...volume.configMap, name };
    }
  }
  return out;
}
