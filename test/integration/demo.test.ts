import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/demo/demo.js';

describe('the demo', () => {
  it('shows a healthy candidate promoted step by step, then a regressing one rolled back by the analysis, over HTTP and gRPC', async () => {
    const lines: string[] = [];
    await runDemo({ proxyPort: 0, adminPort: 0, durationMs: 1, bakeMs: 1500, print: (l) => lines.push(l) });
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
