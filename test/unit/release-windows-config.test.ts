import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { isSwitchyardError } from '../../src/core/errors.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/config/valid-release-windows.yaml', import.meta.url));

/** A valid service with `releaseWindows` set to the given YAML flow text. */
function withWindows(windows: string): string {
  return `
services:
  fraud-scorer:
    match: { pathPrefix: /fraud }
    versions:
      v1: { targets: ["http://127.0.0.1:9001"] }
    rollout: { stable: v1 }
    releaseWindows: ${windows}
`;
}

function problems(text: string): string[] {
  try {
    parseConfig(text, {});
  } catch (err) {
    if (isSwitchyardError(err) && Array.isArray(err.details?.['problems'])) return (err.details['problems'] as unknown[]).map(String);
    throw err;
  }
  throw new Error('expected the config to be refused');
}

const AT = 'services.fraud-scorer.releaseWindows';

describe('releaseWindows in the config', () => {
  test('is optional: a service without it has no policy (always open)', () => {
    const config = parseConfig(withWindows('null').replace('    releaseWindows: null\n', ''), {});
    expect(config.services['fraud-scorer']?.releaseWindows).toBeUndefined();
  });

  test('the fixture: office hours, no Friday afternoon, days in any case or spelled out, a night spanning midnight', () => {
    const config = loadConfig(FIXTURE, {});
    expect(config.services['fraud-scorer']?.releaseWindows).toEqual({
      timeZone: 'Europe/Paris',
      allow: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], fromMinute: 540, toMinute: 1020 }],
      block: [{ days: ['fri'], fromMinute: 720, toMinute: 1440 }],
    });
    expect(config.services['ranker']?.releaseWindows).toEqual({
      timeZone: 'America/New_York',
      allow: null,
      block: [
        { days: ['sat', 'sun'], fromMinute: 0, toMinute: 1440 },
        { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], fromMinute: 1320, toMinute: 360 },
      ],
    });
  });

  test('time zones are checked and written canonically', () => {
    const zone = (name: string) => parseConfig(withWindows(`{ timeZone: "${name}", block: [ { days: [sun], from: "00:00", to: "24:00" } ] }`), {}).services['fraud-scorer']?.releaseWindows?.timeZone;
    expect(zone('europe/paris')).toBe('Europe/Paris');
    expect(zone('US/Eastern')).toBe('America/New_York');
    expect(zone('UTC')).toBe('UTC');
    expect(problems(withWindows('{ timeZone: Mars/Olympus_Mons, block: [ { from: "00:00", to: "01:00" } ] }'))).toEqual([
      `${AT}.timeZone: not a time zone this Node knows (got "Mars/Olympus_Mons"); use an IANA name like Europe/Paris or UTC`,
    ]);
    expect(problems(withWindows('{ block: [ { from: "00:00", to: "01:00" } ] }'))).toEqual([`${AT}.timeZone: required: an IANA time zone like Europe/Paris`]);
  });

  test('every bad day, time and field is reported at once with its path', () => {
    const text = withWindows(`
      timeZone: Europe/Paris
      allow:
        - { days: [mon, funday], from: "9am", to: "17:00" }
        - { days: [], from: "24:00", to: "25:00" }
        - { from: "10:00", to: "10:00" }
      block:
        - { days: [fri], from: "12:60", to: 1700, until: "never" }`);
    expect(problems(text).sort()).toEqual(
      [
        `${AT}.allow[0].days[1]: not a day of the week: use mon, tue, wed, thu, fri, sat, sun (got "funday")`,
        `${AT}.allow[0].from: not a time like 09:00 or 17:30 (24-hour HH:MM, up to 23:59) (got "9am")`,
        `${AT}.allow[1].days: give at least one day, or leave days out for every day`,
        `${AT}.allow[1].from: not a time like 09:00 or 17:30 (24-hour HH:MM, up to 23:59) (got "24:00")`,
        `${AT}.allow[1].to: not a time like 09:00 or 17:30 (24-hour HH:MM, up to 24:00) (got "25:00")`,
        `${AT}.allow[2].to: must differ from "from"; a whole day is from "00:00" to "24:00"`,
        `${AT}.block[0].from: not a time like 09:00 or 17:30 (24-hour HH:MM, up to 23:59) (got "12:60")`,
        `${AT}.block[0].to: not a time like 09:00 or 17:30 (24-hour HH:MM, up to 24:00)`,
        `${AT}.block[0].until: Unrecognized key "until"`,
      ].sort(),
    );
  });

  test('refuses an empty allow list, a policy with neither allow nor block, and one that never opens', () => {
    expect(problems(withWindows('{ timeZone: UTC, allow: [] }'))).toEqual([
      `${AT}.allow: give at least one window, or leave allow out to allow every time outside block`,
    ]);
    expect(problems(withWindows('{ timeZone: UTC }'))).toEqual([`${AT}: give allow, block or both; to release at any time, leave releaseWindows out`]);
    expect(problems(withWindows('{ timeZone: UTC, allow: [ { days: [mon], from: "09:00", to: "17:00" } ], block: [ { days: [mon], from: "08:00", to: "18:00" } ] }'))).toEqual([
      `${AT}: never open: the blocked periods cover every allowed window`,
    ]);
  });

  test('one policy can be shared between services with a YAML anchor', () => {
    const config = parseConfig(
      `
services:
  a:
    versions: { v1: { targets: ["http://127.0.0.1:9001"] } }
    match: { pathPrefix: /a }
    rollout: { stable: v1 }
    releaseWindows: &office { timeZone: Europe/Paris, allow: [ { days: [mon], from: "09:00", to: "17:00" } ] }
  b:
    versions: { v1: { targets: ["http://127.0.0.1:9002"] } }
    match: { pathPrefix: /b }
    rollout: { stable: v1 }
    releaseWindows: *office
`,
      {},
    );
    expect(config.services['b']?.releaseWindows).toEqual(config.services['a']?.releaseWindows);
    expect(config.services['b']?.releaseWindows?.timeZone).toBe('Europe/Paris');
  });

  test('unquoted times in YAML are read as text (YAML 1.2), so 09:00 works without quotes', () => {
    const config = parseConfig(withWindows('{ timeZone: UTC, allow: [ { from: 09:00, to: 17:30 } ] }'), {});
    expect(config.services['fraud-scorer']?.releaseWindows?.allow).toEqual([{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], fromMinute: 540, toMinute: 1050 }]);
  });
});
