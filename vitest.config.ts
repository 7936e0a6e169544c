import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/isolated-tmpdir.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default', 'json'],
    // CI's Node 24 leg writes its own report with --outputFile.json=...; scripts/test-count.mjs adds the legs up.
    outputFile: { json: '.artifacts/vitest.json' },
  },
});
