const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Parses `500ms`, `30s`, `5m`, `1h`, `7d` to milliseconds; null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  const match = DURATION.exec(text.trim());
  if (match === null) return null;
  const [, amount = '', unit = ''] = match;
  const ms = Number(amount) * (UNIT_MS[unit] ?? Number.NaN);
  return Number.isFinite(ms) ? Math.round(ms) : null;
}

/** What a duration field must hold, in the config file and in admin requests alike. */
export const DURATION_RULE = 'must be a duration like 500ms, 30s, 5m, 1h or 7d';

/** The message for a text that is not a duration, quoting (the start of) it. */
export function durationProblem(text: string): string {
  return `${DURATION_RULE} (got ${JSON.stringify(text.slice(0, 40))})`;
}
