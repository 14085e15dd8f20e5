// User-facing errors: one clear message naming the file, line or field at fault.
// Anything thrown as an R2ecError is printed without a stack trace by the CLI and the notebook runner.

export class R2ecError extends Error {
  exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'R2ecError';
  }
}

/** A problem in an input file, located as precisely as we know. */
export class DataError extends R2ecError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly field: string | undefined,
    readonly problem: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}${field ? ` (field "${field}")` : ''}: ${problem}`);
    this.name = 'DataError';
  }
}

/** A bad configuration value, named by its dotted key. */
export class ConfigError extends R2ecError {
  constructor(readonly field: string, readonly problem: string) {
    super(`config field "${field}": ${problem}`);
    this.name = 'ConfigError';
  }
}

export function formatError(err: unknown): string {
  if (err instanceof R2ecError) return `r2ec: ${err.message}`;
  if (err instanceof Error) return `r2ec: unexpected error: ${err.stack ?? err.message}`;
  return `r2ec: unexpected error: ${String(err)}`;
}
