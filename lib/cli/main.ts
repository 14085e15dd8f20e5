// The `r2ec` command. Each command group lives in its own module and registers itself on the program; add new
// groups (run, bench, notebook, ...) to REGISTRARS below.
import { Command } from 'commander';
import { registerDataCommands } from './data';
import { registerRunCommands } from './run';
import { registerBenchCommands } from './bench';
import { registerBackboneCommands } from './backbone';
import { registerHandoffCommands } from './handoff';

export type Registrar = (program: Command) => void;

/** Command groups, in help order. */
export const REGISTRARS: Registrar[] = [
  registerDataCommands,
  registerRunCommands,
  registerBenchCommands,
  registerBackboneCommands,
  registerHandoffCommands,
];

export function buildProgram(): Command {
  const program = new Command('r2ec')
    .description('R²ec research workbench: reasoning recommender models trained with RecPO')
    .showHelpAfterError('(run with --help for usage)');
  for (const register of REGISTRARS) register(program);
  return program;
}

/** Entry point used by bin/r2ec.js; R2ecErrors propagate to its one-line printer. */
export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
