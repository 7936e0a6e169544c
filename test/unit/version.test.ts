import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/run.js';
import { packageVersion } from '../../src/version.js';
import { cliAgainst } from '../helpers/cli.js';
import { PACKAGE_VERSION } from '../helpers/package-version.js';

// --version never reaches the admin API: nothing listens at this address.
const { cli } = cliAgainst(() => 'http://127.0.0.1:9');

describe('the version', () => {
  it('is the one in package.json', () => {
    expect(PACKAGE_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    expect(packageVersion()).toBe(PACKAGE_VERSION);
  });

  it('is what switchyard --version and -V print, with exit 0', async () => {
    for (const flag of ['--version', '-V']) {
      const res = await cli([flag]);
      expect(res, flag).toEqual({ code: EXIT.ok, out: `${PACKAGE_VERSION}\n`, err: '' });
    }
  });
});
