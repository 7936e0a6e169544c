import { describe, expect, test } from 'vitest';
import { ServiceCatalog } from '../../src/app/catalog.js';
import { RolloutCommands } from '../../src/app/commands.js';
import { parseConfig } from '../../src/config/load.js';
import { FORCE_NEEDS_REASON, forceLacksReason } from '../../src/core/release-window.js';
import { parseInput, reasonBody, weightBody } from '../../src/http/admin/schemas.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { refusalOf } from '../helpers/refusal.js';

const YAML = `
services:
  s:
    match: { pathPrefix: /s }
    versions: { v1: { targets: ["http://127.0.0.1:1"] }, v2: { targets: ["http://127.0.0.1:2"] } }
    rollout: { stable: v1 }
`;

describe('force needs a reason', () => {
  test.each<readonly [boolean | undefined, string | null | undefined, boolean]>([
    [true, undefined, true],
    [true, null, true],
    [true, '', true],
    [true, '   ', true],
    [true, 'hotfix for incident 42', false],
    [false, undefined, false],
    [undefined, null, false],
  ])('force %s with reason %j lacks one: %s', (force, reason, lacks) => {
    expect(forceLacksReason(force, reason)).toBe(lacks);
  });

  test('the admin API and the rollout commands refuse it with the one message, on the reason field', async () => {
    const errors = [{ field: 'reason', message: FORCE_NEEDS_REASON }];
    const api = await refusalOf(() => parseInput(reasonBody, { force: true }, 'body'));
    expect(api).toMatchObject({ code: 'SY_ERR_VALIDATION', message: `reason: ${FORCE_NEEDS_REASON}`, details: { errors } });
    expect((await refusalOf(() => parseInput(weightBody, { weight: 5, force: true, reason: null }, 'body'))).details).toEqual({ errors });

    const config = parseConfig(YAML, {});
    const commands = new RolloutCommands(new MemoryStore(), new ServiceCatalog(config.services), { now: () => 1_700_000_000_000 });
    await commands.seed();
    const direct = await refusalOf(() => commands.run('s', { type: 'start', candidate: 'v2' }, { actor: 'ops', force: true, reason: '  ' }));
    expect(direct).toMatchObject({ code: 'SY_ERR_VALIDATION', message: `reason: ${FORCE_NEEDS_REASON}`, details: { errors } });
    expect((await commands.state('s')).revision).toBe(1);
  });
});
