import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { SwitchyardError } from '../core/errors.js';
import { substituteEnv, type EnvProblem } from './env.js';
import { configSchema, type Config } from './schema.js';

/** `services.fraud-scorer.versions.v2.targets[0]` from zod's path array. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out === '' ? '' : '.'}${String(part)}`;
  return out || '(root)';
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Parses and validates a config text. Every problem is reported at once, each
 * with its field path; the result is frozen.
 */
export function parseConfig(text: string, env: Readonly<Record<string, string | undefined>>, source = 'config'): Config {
  let tree: unknown;
  try {
    tree = parseYaml(text);
  } catch (err) {
    const detail = err instanceof YAMLParseError ? err.message : String(err);
    throw new SwitchyardError('SY_ERR_CONFIG', `${source}: not valid YAML: ${detail}`);
  }
  const problems: EnvProblem[] = [];
  const substituted = substituteEnv(tree ?? {}, env, problems);
  const result = configSchema.safeParse(substituted);
  const lines = problems.map((p) => `${p.path}: ${p.message}`);
  if (!result.success) lines.push(...result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`));
  if (lines.length > 0 || !result.success) {
    throw new SwitchyardError('SY_ERR_CONFIG', `${source} is invalid:\n  ${lines.join('\n  ')}`, { problems: lines });
  }
  return deepFreeze(result.data);
}

export function loadConfig(file: string, env: Readonly<Record<string, string | undefined>> = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SwitchyardError('SY_ERR_CONFIG', `cannot read config file ${file}: ${(err as Error).message}`);
  }
  return parseConfig(text, env, file);
}
