/** The terminal: streams, colour, progress and prompts. Only front ends touch it. */
import { createInterface } from 'node:readline/promises';
import path from 'node:path';
import { formatProblem, type Problem } from '../errors.js';

export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
  env: Record<string, string | undefined>;
  cwd: string;
}

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() };
}

/** Colour on a terminal, never with NO_COLOR or when piped; FORCE_COLOR forces it. */
export function useColor(io: Io, stream: NodeJS.WriteStream = io.stdout): boolean {
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '') return false;
  if (io.env.FORCE_COLOR !== undefined && io.env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY) && io.env.TERM !== 'dumb';
}

/** "done of total" on one rewritten stderr line, shown only on a terminal. */
export function progressReporter(io: Io, label: string): { update(done: number, total: number): void; finish(): void } {
  if (!io.stderr.isTTY) return { update() {}, finish() {} };
  let shown = false;
  let last = 0;
  return {
    update(done, total) {
      const now = Date.now();
      if (done !== total && now - last < 100) return;
      last = now;
      shown = true;
      io.stderr.write(`\r${label} ${done}/${total}`);
    },
    finish() {
      if (shown) io.stderr.write('\r\x1b[K');
    },
  };
}

export async function confirm(io: Io, question: string): Promise<boolean> {
  const prompt = createInterface({ input: io.stdin, output: io.stderr });
  try {
    const answer = await prompt.question(question);
    return answer.trim() === 'yes';
  } finally {
    prompt.close();
  }
}

/** Problems name files relative to the repository; show them relative to where the user is. */
export function problemLine(problem: Problem, repositoryDir: string | undefined, io: Io): string {
  if (!problem.location || !repositoryDir) return formatProblem(problem);
  const absolute = path.resolve(repositoryDir, problem.location.file);
  const relative = path.relative(io.cwd, absolute);
  const shown = !relative || relative.startsWith('..') ? absolute : relative;
  return formatProblem({ code: problem.code, message: problem.message, location: { ...problem.location, file: shown } });
}
