import type { Io } from './io.js';

/** A command's module, loaded only when that command runs (see commands/index.ts). */
export interface Command {
  /** Full help text for `statics NAME --help`. */
  help: string;
  /** Returns the exit code; throws StaticsError for anything the user must fix. */
  run(argv: string[], io: Io, context: CommandContext): Promise<number>;
}

export interface CommandContext {
  version: string;
  command: string;
  /** Set by the command once it knows the repository, so problems are shown relative to it. */
  repositoryDir?: string;
}
