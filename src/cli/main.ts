/** The statics command line: dispatch, help, and the one place errors become lines and exit codes. */
import packageJson from '../../package.json' with { type: 'json' };
import { ProblemsError, StaticsError, isStaticsError, messageOf } from '../errors.js';
import type { CommandContext } from './command.js';
import { COMMANDS } from './commands/index.js';
import { closest } from './suggest.js';
import { problemLine, processIo, type Io } from './io.js';

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `statics ${packageJson.version}: plan and apply configuration documents to a revision store

Usage: statics COMMAND [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run 'statics COMMAND --help' for a command's options.
With no store configured, documents go to file://.statics inside the repository.

Exit codes: 0 success, 1 error, 2 changes present (plan --detailed-exitcode).
`;
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(mainHelp());
    return name ? 0 : 1;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${packageJson.version}\n`);
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    const suggestion = closest(name, COMMANDS.map((c) => c.name));
    io.stderr.write(`statics: unknown command "${name}"${suggestion ? `; did you mean "${suggestion}"?` : ''} (see statics --help)\n`);
    return 1;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(command.help + '\n');
    return 0;
  }
  const debug = rest.includes('--debug');
  const context: CommandContext = { version: packageJson.version, command: entry.name };
  try {
    return await command.run(rest, io, context);
  } catch (error) {
    reportError(error, io, context, debug);
    return 1;
  }
}

function reportError(error: unknown, io: Io, context: CommandContext, debug: boolean): void {
  if (error instanceof ProblemsError) {
    for (const problem of error.problems) io.stderr.write(problemLine(problem, context.repositoryDir, io) + '\n');
    const count = error.problems.length;
    const outcome = context.command === 'validate' ? '' : '; nothing was changed';
    io.stderr.write(`statics: ${count} problem${count === 1 ? '' : 's'} found${outcome}\n`);
  } else if (isStaticsError(error)) {
    io.stderr.write(`${error.location ? problemLine(error, context.repositoryDir, io) : `statics: ${error.message}`}\n`);
  } else {
    io.stderr.write(`statics: unexpected error: ${messageOf(error).split('\n')[0]}${debug ? '' : ' (run with --debug for details)'}\n`);
  }
  if (debug && error instanceof Error && !(error instanceof StaticsError && !error.cause)) io.stderr.write(`${error.stack}\n`);
}
