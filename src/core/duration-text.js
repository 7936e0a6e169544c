// How long something lasts, in the words both the CLI and the web console use
// ("59m 55s", "1d 1h"). Plain JavaScript, typed by duration-text.d.ts beside
// it: the console runs it in the browser as it is, without a build step, and
// the admin server serves this very file to it.

const UNITS = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/**
 * The two largest non-zero units, truncated: 90061000 -> "1d 1h",
 * 150000 -> "2m 30s", 3600000 -> "1h"; under a second, in ms ("250ms").
 * @param {number} ms
 * @returns {string}
 */
export function durationText(ms) {
  if (ms < 1000) return `${ms}ms`;
  const parts = [];
  let rest = ms;
  for (const [unit, size] of UNITS) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0) parts.push(`${count}${unit}`);
  }
  return parts.slice(0, 2).join(' ');
}
