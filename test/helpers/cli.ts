import { expect } from 'vitest';
import { EXIT, run } from '../../src/cli/run.js';
import { OPERATOR_TOKEN } from './gateway.js';

export interface CliResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/**
 * The CLI run in-process through its entry function against the admin URL
 * `adminUrl()` gives (read per call: tests start a gateway per test).
 */
export function cliAgainst(adminUrl: () => string) {
  const cli = async (args: readonly string[], env: Record<string, string | undefined> = {}, fetchImpl?: typeof fetch): Promise<CliResult> => {
    let out = '';
    let err = '';
    const code = await run(args, {
      out: (t) => void (out += t),
      err: (t) => void (err += t),
      env: { SWITCHYARD_ADMIN_URL: adminUrl(), SWITCHYARD_ADMIN_TOKEN: OPERATOR_TOKEN, ...env },
      ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
    });
    return { code, out, err };
  };
  const ok = async (args: readonly string[]): Promise<string> => {
    const res = await cli(args);
    expect(res.err).toBe('');
    expect(res.code).toBe(EXIT.ok);
    return res.out;
  };
  const json = async (args: readonly string[]): Promise<Record<string, any>> => JSON.parse(await ok([...args, '--json'])) as Record<string, any>;
  /** Each `[args, detail]` exits 2 with one line holding `detail`, and none reaches the gateway. */
  const expectUsageErrors = async (cases: ReadonlyArray<readonly [readonly string[], string]>): Promise<void> => {
    let called = false;
    const spy: typeof fetch = async (...args) => {
      called = true;
      return fetch(...args);
    };
    for (const [args, detail] of cases) {
      const res = await cli(args, {}, spy);
      expect(res.code, args.join(' ')).toBe(EXIT.usage);
      expectOneLine(res.err, detail);
    }
    expect(called).toBe(false);
  };
  return { cli, ok, json, expectUsageErrors };
}

/** One clear line on stderr: `switchyard: <detail>`. */
export function expectOneLine(err: string, detail: string | RegExp): void {
  const lines = err.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^switchyard: /);
  if (typeof detail === 'string') expect(lines[0]).toContain(detail);
  else expect(lines[0]).toMatch(detail);
}
