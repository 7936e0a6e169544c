import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { deepFreeze } from '../core/deep-freeze.js';
import { SwitchyardError } from '../core/errors.js';
import { formatFieldPath } from '../core/field-path.js';
import { didYouMean } from '../core/nearest-name.js';
import { substituteEnv, type EnvProblem } from './env.js';
import { knownKeysAt } from './known-keys.js';
import { configSchema, type Config, type ListenerTlsConfig, type TargetTlsConfig } from './schema.js';

const ROOT = '(root)';

/**
 * One line per problem, each starting with its field path
 * (`services.fraud-scorer.versions.v2.targets[0]: ...`). An unknown field gets
 * a line of its own, with the nearest field its object knows when one is close.
 */
function problemLines(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((issue) => {
    // zod says "Invalid input: expected object, received undefined" of a field that is simply not there.
    if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) {
      const kind = issue.expected === 'object' || issue.expected === 'record' ? 'a mapping' : `a ${issue.expected}`;
      return [`${formatFieldPath(issue.path, ROOT)}: required, and missing (${kind})`];
    }
    if (issue.code !== 'unrecognized_keys') return [`${formatFieldPath(issue.path, ROOT)}: ${issue.message}`];
    const known = knownKeysAt(configSchema, issue.path);
    return issue.keys.map((key) => `${formatFieldPath([...issue.path, key], ROOT)}: Unrecognized key "${key}"${didYouMean(key, known)}`);
  });
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** The PEM file paths of the TLS blocks, read from `baseDir` when relative (the config file's directory). */
function resolveTlsFiles(config: Config, baseDir: string): void {
  const fix = (block: ListenerTlsConfig | TargetTlsConfig | undefined) => {
    if (block === undefined) return;
    const w = block as Writable<ListenerTlsConfig & TargetTlsConfig>;
    for (const name of ['cert', 'key', 'ca'] as const) if (w[name] !== undefined) w[name] = resolve(baseDir, w[name]);
  };
  fix(config.proxy.tls);
  fix(config.admin.tls);
  for (const service of Object.values(config.services)) {
    fix(service.tls);
    for (const version of Object.values(service.versions)) fix(version.tls);
  }
}

/**
 * Parses and validates a config text. Every problem is reported at once, each
 * with its field path; the result is frozen. Relative TLS file paths are read
 * from `baseDir` (the config file's directory; the working directory without one).
 */
export function parseConfig(text: string, env: Readonly<Record<string, string | undefined>>, source = 'config', baseDir = '.'): Config {
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
  // A field whose variable is missing is reported once, by the variable, not again for the empty value it got.
  const unset = new Set(problems.map((p) => p.path));
  if (!result.success) lines.push(...problemLines(result.error.issues.filter((issue) => !unset.has(formatFieldPath(issue.path, ROOT)))));
  if (lines.length > 0 || !result.success) {
    throw new SwitchyardError('SY_ERR_CONFIG', `${source} is invalid:\n  ${lines.join('\n  ')}`, { problems: lines });
  }
  resolveTlsFiles(result.data, baseDir);
  return deepFreeze(result.data);
}

export function loadConfig(file: string, env: Readonly<Record<string, string | undefined>> = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SwitchyardError('SY_ERR_CONFIG', `cannot read config file ${file}: ${(err as Error).message}`);
  }
  return parseConfig(text, env, file, dirname(file));
}
