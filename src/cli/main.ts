#!/usr/bin/env node
import { run } from './run.js';

// Exit codes (see exit-codes.ts): 0 ok, 1 the API refused (4xx), 2 usage error, 3 gateway unreachable or 5xx.

// `switchyard audit | head`: a reader that went away is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

// exitCode rather than exit(): `serve` and `demo` keep running after run() resolves.
process.exitCode = await run(process.argv.slice(2));
