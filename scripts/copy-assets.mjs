// Copies the non-TypeScript files the compiled code reads at run time (Lua
// scripts, console page, and plain-JS modules such as core/duration-text.js,
// which the CLI imports and the console is served) from src/ to dist/src/,
// keeping their paths, and the gRPC protos from proto/ to dist/proto/, so code
// that finds them relative to itself finds them from dist/src/ as it does from
// src/.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ASSET = /\.(lua|html|css|js|svg)$/;

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (ASSET.test(name) && !name.endsWith('.d.ts')) cpSync(path, join('dist', 'src', relative('src', path)));
  }
}

walk('src');
cpSync('proto', join('dist', 'proto'), { recursive: true });
