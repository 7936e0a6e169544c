import { describe, expect, it } from 'vitest';
import { ServiceCatalog } from '../../src/app/catalog.js';
import { RolloutCommands } from '../../src/app/commands.js';
import { parseConfig } from '../../src/config/load.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';

const YAML = `
overrides: { defaultTtl: 1h, maxTtl: 2h }
services:
  s:
    match: { pathPrefix: /s }
    versions: { v1: { targets: ["http://127.0.0.1:1"] }, v2: { targets: ["http://127.0.0.1:2"] } }
    rollout: { stable: v1 }
`;

describe('override policy from the config', () => {
  const config = parseConfig(YAML, {});
  const now = 1_700_000_000_000;
  const commands = new RolloutCommands(new MemoryStore(), new ServiceCatalog(config.services), { now: () => now }, {
    defaultTtlMs: config.overrides.defaultTtl,
    maxTtlMs: config.overrides.maxTtl,
  });

  it('gives a pin without ttl the configured default', async () => {
    const pin = await commands.putOverride('s', 'alice', { version: 'v2', reason: 'qa' }, 'ops');
    expect(pin.expiresAt - now).toBe(3_600_000);
  });

  it('refuses a pin longer than the configured cap, naming the field', async () => {
    await expect(commands.putOverride('s', 'bob', { version: 'v2', reason: 'qa', ttlMs: 3 * 3_600_000 }, 'ops')).rejects.toThrow(/^ttl: at most 2h /);
  });

  it('refuses a default longer than the cap in the config', () => {
    expect(() => parseConfig(YAML.replace('defaultTtl: 1h', 'defaultTtl: 3h'), {})).toThrow(/overrides\.defaultTtl: must not exceed maxTtl/);
  });
});
