import { Command, CommanderError } from 'commander';
import { InputError } from '../core/errors.ts';
import { registerBundleCommand } from './commands/bundle.ts';
import { registerDataCommands } from './commands/data.ts';
import { registerEvalCommand } from './commands/eval.ts';
import { registerLabCommands } from './commands/lab.ts';
import { registerPublishCommand } from './commands/publish.ts';
import { registerQuantizeCommand } from './commands/quantize.ts';
import { registerReplayCommand } from './commands/replay.ts';
import { registerServeCommands } from './commands/serve.ts';
import { registerTrainCommand } from './commands/train.ts';
import { registerTuneCommand } from './commands/tune.ts';

/** Exit codes: 0 success, 1 an unexpected failure, 2 bad input (usage, files, values). */
export const EXIT_BAD_INPUT = 2;

function buildProgram(): Command {
  const program = new Command('edgerec')
    .description('edgerec: train, evaluate and package on-device recommenders')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) })
    .showSuggestionAfterError(true);
  registerDataCommands(program);
  registerEvalCommand(program);
  registerQuantizeCommand(program);
  registerTrainCommand(program);
  registerTuneCommand(program);
  registerBundleCommand(program);
  registerServeCommands(program);
  registerPublishCommand(program);
  registerLabCommands(program);
  registerReplayCommand(program);
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  return program;
}

/** Runs the CLI and returns the exit code; errors become one line on stderr. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit with code 0; commander has already printed usage errors.
      return error.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
    }
    // A missing optional peer (tfjs, fastify…) is named by bin/edgerec.mjs with the install command.
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') throw error;
    if (error instanceof InputError || error instanceof RangeError) {
      process.stderr.write(`edgerec: ${error.message}\n`);
      return EXIT_BAD_INPUT;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`edgerec: ${message}\n`);
    if (process.env.EDGEREC_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return 1;
  }
}
