import { readFileSync } from 'node:fs';

/** The version in the repository's package.json, read here so tests compare the product's answers with the file itself. */
export const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
