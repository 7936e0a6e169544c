import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import { SwitchyardError } from '../../core/errors.js';
import { parseStoredState } from '../../core/rollout-state.js';
import { packageVersion } from '../../version.js';

/** The Lua scripts in ../lua, each file named `<name>-<number of keys>.lua`. */
const SCRIPT_FILES = [
  'initState-2',
  'casState-2',
  'putOverride-3',
  'restoreOverride-3',
  'deleteOverride-3',
  'listOverrides-2',
  'acquireLease-1',
  'releaseLease-1',
] as const;

type ScriptFile = (typeof SCRIPT_FILES)[number];
export type ScriptName = ScriptFile extends `${infer Name}-${number}` ? Name : never;
export type ScriptArg = string | number;
/** Runs a script and resolves to its raw reply; decode it with `outcome`. */
export type RunScript = (name: ScriptName, keys: readonly string[], args: readonly ScriptArg[]) => Promise<unknown>;

/**
 * What a script did. Scripts answer `{code, payload?}` (see each file's header);
 * `outcome` below is the one place where codes get their meaning.
 */
export type ScriptOutcome =
  | { readonly kind: 'done'; readonly payload: string }
  | { readonly kind: 'noop'; readonly payload: string | null }
  | { readonly kind: 'stale'; readonly payload: string | null }
  | { readonly kind: 'changed' };

/**
 * Registers the scripts on a client. Command names carry the package version so
 * that two Switchyard releases sharing one Redis never run each other's scripts
 * under the same name.
 */
export function defineScripts(client: Redis | Cluster): RunScript {
  const suffix = packageVersion().replace(/\W/g, '_');
  for (const file of SCRIPT_FILES) {
    const [name, keyCount] = splitFileName(file);
    client.defineCommand(`sy_${name}_v${suffix}`, { numberOfKeys: keyCount, lua: scriptSource(file) });
  }
  const commands = client as unknown as Record<string, (...args: ScriptArg[]) => Promise<unknown>>;
  return (name, keys, args) => {
    const command = commands[`sy_${name}_v${suffix}`];
    if (command === undefined) throw new Error(`script ${name} is not defined on this client`);
    return command.call(client, ...keys, ...args);
  };
}

export function outcome(reply: unknown): ScriptOutcome {
  const [code, payload = null] = reply as [number, string?];
  switch (code) {
    case 1:
      return { kind: 'done', payload: payload ?? '' };
    case 0:
      return { kind: 'noop', payload };
    case -1:
      return { kind: 'stale', payload };
    case -2:
      // parseStoredState builds the operator-facing message from the stored document.
      parseStoredState(payload ?? '{}');
      throw new SwitchyardError('SY_ERR_SCHEMA_TOO_NEW', 'the stored state has a schema version this replica does not understand; upgrade it');
    case -3:
      return { kind: 'changed' };
    default:
      throw new Error(`unexpected script reply ${JSON.stringify(reply)}`);
  }
}

function splitFileName(file: ScriptFile): [ScriptName, number] {
  const dash = file.lastIndexOf('-');
  return [file.slice(0, dash) as ScriptName, Number(file.slice(dash + 1))];
}

const sources = new Map<string, string>();

/** Reads a script and pastes in the files named by its `-- @include NAME` lines (NAME.include.lua). */
function scriptSource(file: string): string {
  let source = sources.get(file);
  if (source === undefined) {
    source = readFileSync(new URL(`../lua/${file}.lua`, import.meta.url), 'utf8').replace(/^-- @include (\w+)$/gm, (_, name: string) =>
      readFileSync(new URL(`../lua/${name}.include.lua`, import.meta.url), 'utf8'),
    );
    sources.set(file, source);
  }
  return source;
}
