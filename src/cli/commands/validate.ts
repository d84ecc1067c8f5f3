import { readDesired } from '../../desired/index.js';
import { ProblemsError, type Problem } from '../../errors.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { repositoryArgument, settingsFor } from '../shared.js';

export const validateCommand: Command = {
  help: `Usage: statics validate [DIR]

Parses every document under DIR/documents (default: the current directory), checks names,
sizes and links, and validates structured documents against their JSON Schemas.
Every problem is printed as file:line:col: message. Nothing is contacted.

Exit codes: 0 valid, 1 problems found.`,
  async run(argv, io, context) {
    const parsed = parseCommandArgs('validate', argv, {}, 1);
    const dir = await repositoryArgument(io, parsed.positionals[0]);
    context.repositoryDir = dir;
    const settings = await settingsFor(dir, parsed, io);
    const problems: Problem[] = [];
    let count = 0;
    const desired = { maxFileBytes: settings.maxFileBytes, mediaTypes: settings.mediaTypes, ...(settings.cacheDir ? { cacheDir: settings.cacheDir } : {}) };
    // A file the parse cache knows passed these very checks before: counted without parsing.
    for await (const item of readDesired(dir, desired, { settle: () => true })) {
      if ('problem' in item) problems.push(item.problem);
      else count++;
    }
    if (problems.length > 0) throw new ProblemsError(problems);
    io.stdout.write(`${count} document${count === 1 ? '' : 's'} valid.\n`);
    return 0;
  },
};
