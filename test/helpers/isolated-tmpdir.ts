import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Each test file gets its own temporary directory as TMPDIR, before its modules
 * load: the gateway's default snapshot directory lives under it, so a gateway of
 * one test (or of an earlier run on a recycled port) never starts from another's
 * snapshot. Processes the tests spawn inherit it.
 */
process.env['TMPDIR'] = mkdtempSync(join(tmpdir(), 'switchyard-test-'));
