/** Where the CLI writes and what it reads from its environment; tests pass their own. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Defaults to the global fetch; with --ca, --cert or --key the CLI uses its own (tls-fetch.ts). */
  readonly fetch?: typeof fetch;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
};
