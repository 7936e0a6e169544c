import { formatFieldPath, type FieldPath } from '../core/field-path.js';

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface EnvProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * Replaces `${VAR}` (required) and `${VAR:-default}` (default written in the file)
 * in every string of a parsed YAML tree. A missing variable is an error, never a
 * silent empty string.
 */
export function substituteEnv(
  node: unknown,
  env: Readonly<Record<string, string | undefined>>,
  problems: EnvProblem[],
  path: FieldPath = [],
): unknown {
  if (typeof node === 'string') {
    return node.replace(REFERENCE, (_whole, name: string, fallback: string | undefined) => {
      const value = env[name];
      if (value !== undefined && value !== '') return value;
      if (fallback !== undefined) return fallback;
      problems.push({ path: formatFieldPath(path, '(root)'), message: `environment variable ${name} is not set` });
      return '';
    });
  }
  if (Array.isArray(node)) return node.map((item, i) => substituteEnv(item, env, problems, [...path, i]));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [key, substituteEnv(value, env, problems, [...path, key])]),
    );
  }
  return node;
}
