import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/demo/demo.js';

describe('the demo', () => {
  it('shows a healthy candidate promoted step by step, then a regressing one rolled back by the analysis', async () => {
    const lines: string[] = [];
    await runDemo({ proxyPort: 0, adminPort: 0, durationMs: 1, bakeMs: 1500, print: (l) => lines.push(l) });
    const text = lines.join('\n');
    expect(text).toMatch(/progressing .*candidate v2 {2}weight 0% {2}shadow v2 100%/);
    expect(text).toMatch(/why: analysis: step 1 passed: shadow v2/);
    expect(text).toMatch(/progressing .*candidate v2 {2}weight 10%/);
    expect(text).toMatch(/progressing .*candidate v2 {2}weight 50%/);
    expect(text).toMatch(/promoted +stable v2/);
    expect(text).toMatch(/rolled_back +stable v2 {2}candidate v3/);
    expect(text).toMatch(/why: analysis: shadow v3 failed against stable on the same requests/);
  }, 60_000);
});
