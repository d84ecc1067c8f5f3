/**
 * Errors are values: every failure the engine can explain carries a code and, where a file is to
 * blame, its location. Front ends format them as one line each (`file:line:col: message`).
 */
export type ErrorCode =
  | 'invalid-name'
  | 'parse'
  | 'schema'
  | 'schema-file'
  | 'symlink'
  | 'too-large'
  | 'unreadable'
  | 'config'
  | 'plan-file'
  | 'usage'
  | 'store'
  | 'coord'
  | 'lock-timeout'
  | 'lock-lost'
  | 'stale'
  | 'not-found'
  | 'delete-guard'
  | 'internal';

export interface Location {
  /** Path as the user knows it: relative to the repository directory where possible. */
  file: string;
  line?: number;
  col?: number;
}

export class StaticsError extends Error {
  readonly code: ErrorCode;
  readonly location?: Location;

  constructor(code: ErrorCode, message: string, location?: Location, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StaticsError';
    this.code = code;
    this.location = location;
  }

  /** One line: `file:line:col: message`, or just the message. */
  override toString(): string {
    return formatProblem(this);
  }
}

/** A problem found in the desired repository. Many can be reported at once. */
export interface Problem {
  code: ErrorCode;
  message: string;
  location?: Location;
}

export function formatProblem(problem: Problem): string {
  const where = problem.location;
  if (!where) return problem.message;
  let prefix = where.file;
  if (where.line !== undefined) {
    prefix += `:${where.line}`;
    if (where.col !== undefined) prefix += `:${where.col}`;
  }
  return `${prefix}: ${problem.message}`;
}

/** Several problems at once (e.g. every invalid document of a repository). */
export class ProblemsError extends StaticsError {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    const first = problems[0];
    super(first?.code ?? 'internal', `${problems.length} problem(s) found`, first?.location);
    this.problems = problems;
  }
}

export function isStaticsError(error: unknown): error is StaticsError {
  return error instanceof StaticsError;
}

/** The message of anything thrown, for wrapping foreign errors. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
