import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/run.js';
import { runDemo } from '../../src/demo/demo.js';

/** The variables of the `export A=x B=y` line the demo prints for the CLI. */
function exported(lines: readonly string[]): Record<string, string> {
  const line = lines.find((l) => l.trim().startsWith('export '));
  if (line === undefined) return {};
  return Object.fromEntries(line.trim().slice('export '.length).split(' ').map((pair) => pair.split('=') as [string, string]));
}

describe('the demo', () => {
  it('shows a healthy candidate promoted step by step, then a regressing one rolled back by the analysis, over HTTP and gRPC', async () => {
    const lines: string[] = [];
    const demo = runDemo({ proxyPort: 0, adminPort: 0, durationMs: 5000, bakeMs: 1500, print: (l) => lines.push(l) });
    // The CLI commands it prints work as written, with the example config's token.
    await vi.waitFor(() => expect(lines.some((l) => l.includes('npx switchyard status fraud-scorer'))).toBe(true), { timeout: 50_000 });
    const env = exported(lines);
    expect(env['SWITCHYARD_ADMIN_TOKEN']).toBe('dev-operator-token-change-me');
    expect(readFileSync(new URL('../../config/example.yaml', import.meta.url), 'utf8')).toContain('${SWITCHYARD_ADMIN_TOKEN:-dev-operator-token-change-me}');
    let out = '';
    const code = await run(['status', 'fraud-scorer'], { out: (t) => void (out += t), err: (t) => void (out += t), env });
    expect(code).toBe(0);
    expect(out).toMatch(/fraud-scorer/);
    await demo;
    const text = lines.join('\n');
    expect(text).toMatch(/fraud-scorer +progressing .*candidate v2 {2}weight 0% {2}shadow v2 100%/);
    expect(text).toMatch(/why: analysis: step 1 passed: shadow v2/);
    expect(text).toMatch(/fraud-scorer +progressing .*candidate v2 {2}weight 10%/);
    expect(text).toMatch(/fraud-scorer +progressing .*candidate v2 {2}weight 50%/);
    expect(text).toMatch(/fraud-scorer +promoted +stable v2/);
    expect(text).toMatch(/fraud-scorer +rolled_back +stable v2 {2}candidate v3/);
    expect(text).toMatch(/why: analysis: shadow v3 failed against stable on the same requests/);

    // The gRPC service has no shadow step: v2 is canaried by weight, v3 rolled back on its UNAVAILABLE statuses.
    expect(text).toMatch(/kserve-infer +progressing .*candidate v2 {2}weight 10% {2}step 1\/2/);
    expect(text).toMatch(/kserve-infer +progressing .*candidate v2 {2}weight 50%.*\| traffic v1 \d+% v2 \d+%/);
    expect(text).toMatch(/kserve-infer +promoted +stable v2/);
    expect(text).toMatch(/kserve-infer +rolled_back +stable v2 {2}candidate v3 .*\n {4}why: analysis: .*candidate error rate [1-9]\d*\.\d% vs stable 0\.0%/);
    expect(text).toMatch(/kserve-infer +promoted[^]*kserve-infer +rolled_back/);
  }, 60_000);
});
