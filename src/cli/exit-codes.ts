/**
 * Exit codes scripts can rely on:
 *
 *   0  done
 *   1  the gateway refused the request (a 4xx: unknown service, bad token,
 *      validation, a closed release window, an If-Match conflict, ...)
 *   2  usage error (unknown command or option, missing argument, a value the
 *      CLI cannot parse, such as a weight that is not a number, or a --ca,
 *      --cert or --key file it cannot read)
 *   3  the gateway could not be reached, timed out, or failed (a TLS handshake
 *      that failed, a 5xx or an answer that is not the admin API's JSON)
 */
export const EXIT = { ok: 0, refused: 1, usage: 2, unavailable: 3 } as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the CLI reports in one line on stderr and turns into its exit code. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function usageError(message: string): CliError {
  return new CliError(EXIT.usage, message);
}
