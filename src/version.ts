import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let version: string | undefined;

/**
 * The version in Switchyard's package.json, found by walking up from this
 * file: the same code runs from src/ under vitest and from dist/src/ when
 * built. Throws when there is no such file, since every user of the version
 * (Redis script names, /healthz, --version, the OpenAPI document) would
 * otherwise report a made-up one.
 */
export function packageVersion(): string {
  if (version !== undefined) return version;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'switchyard' && typeof pkg.version === 'string') return (version = pkg.version);
    }
    if (dirname(dir) === dir) throw new Error(`cannot find the switchyard package.json above ${fileURLToPath(import.meta.url)}`);
  }
}
