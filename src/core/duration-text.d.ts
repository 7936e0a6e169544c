/** The two largest non-zero units of `ms`, truncated ("59m 55s", "1d 1h"); under a second, in ms ("250ms"). */
export declare function durationText(ms: number): string;
