import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/demo/demo.js';

describe('the demo', () => {
  it('drives a canary through the API and prints a split that follows the weight, with no failed request', async () => {
    const lines: string[] = [];
    await runDemo({ proxyPort: 0, adminPort: 0, durationMs: 1, phaseMs: 800, print: (l) => lines.push(l) });
    const text = lines.join('\n');
    expect(text).toContain('> start a canary of v2: weight now 10%');
    expect(text).toContain('> raise the weight to 50%: weight now 50%');
    expect(text).toContain('> roll back: weight now 0%');
    const splits = lines.filter((l) => l.includes('traffic split'));
    const share = (line: string | undefined) => Number(/v2 ([\d.]+)%/.exec(line ?? '')?.[1] ?? 0);
    // After "50%" roughly half the users are on v2; after the rollback none are.
    expect(share(splits[2])).toBeGreaterThan(25);
    expect(share(splits[3])).toBeLessThan(5);
    for (const line of splits) expect(line).toContain('(5xx: 0)');
  });
});
