import { Command, CommanderError } from 'commander';
import { isSwitchyardError } from '../core/errors.js';
import { packageVersion } from '../version.js';
import { addGlobalOptions, addOperatorCommands } from './commands.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';
import { addGatewayCommands } from './gateway-commands.js';
import { processIo, type CliIo } from './io.js';

export { EXIT } from './exit-codes.js';
export type { CliIo } from './io.js';

function buildProgram(io: CliIo): Command {
  const program = new Command()
    .name('switchyard')
    .description('A gateway that releases new model versions safely: sticky canaries, blue-green switches, rollbacks.')
    .version(packageVersion(), '-V, --version', 'print the version of switchyard')
    // Set before the commands are added: subcommands inherit both.
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (text) => io.out(text),
      writeErr: (text) => io.err(text),
      outputError: (text, write) => write(`switchyard: ${text.replace(/^error: /, '')}`),
    });
  addGlobalOptions(program);
  addGatewayCommands(program, io);
  addOperatorCommands(program, io);
  return program;
}

/**
 * The CLI's entry: parses `args` (the user's arguments, without node and the
 * script), runs the command and resolves to its exit code (see exit-codes.ts).
 * It never calls process.exit, so tests run it in-process.
 */
export async function run(args: readonly string[], io: CliIo = processIo): Promise<ExitCode> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...args], { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    // Commander has already printed its message (or the help) through outputError.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof CliError) {
      io.err(`switchyard: ${err.message}\n`);
      return err.exitCode;
    }
    // serve: a config that does not load is a usage error; anything else failed.
    io.err(`switchyard: ${failureText(err)}\n`);
    return isSwitchyardError(err) && err.code === 'SY_ERR_CONFIG' ? EXIT.usage : EXIT.refused;
  }
}

/**
 * A config with one problem reads as one line, like every other failure
 * (`config.yaml is invalid: admin.tls.cert (/etc/sy/admin.pem): file not found`);
 * several stay one per line, under the file's name.
 */
function failureText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const problems = isSwitchyardError(err) && err.code === 'SY_ERR_CONFIG' ? err.details?.['problems'] : undefined;
  if (!Array.isArray(problems) || problems.length !== 1) return message;
  return `${message.split('\n')[0]} ${String(problems[0])}`;
}
