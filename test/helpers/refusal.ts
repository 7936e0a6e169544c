import { isSwitchyardError, type SwitchyardError } from '../../src/core/errors.js';

/** The SwitchyardError that `run` throws or rejects with; any other outcome fails the test. */
export async function refusalOf(run: () => unknown): Promise<SwitchyardError> {
  try {
    await run();
  } catch (err) {
    if (isSwitchyardError(err)) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}
