/** Problems in the desired repository as GitHub annotations on their file and line, and as Markdown. */
import path from 'node:path';
import * as core from '@actions/core';
import { formatProblem, type Problem } from '../errors.js';
import { escapeMarkdown } from '../render/index.js';

/** GitHub shows at most this many error annotations per step; the rest only in the log. */
export const ANNOTATION_LIMIT = 10;

/** `file` (relative to the repository directory) as a path relative to the workspace, or null outside it. */
export function workspacePath(file: string, repositoryDir: string, workspace: string): string | null {
  const relative = path.relative(workspace, path.resolve(repositoryDir, file));
  if (!relative || relative.startsWith('..') || path.isAbsolute(relative)) return null;
  return relative.split(path.sep).join('/');
}

/** The problem with its file relative to the workspace, as reviewers see paths in the pull request. */
export function inWorkspace(problem: Problem, repositoryDir: string, workspace: string): Problem {
  if (!problem.location) return problem;
  const file = workspacePath(problem.location.file, repositoryDir, workspace) ?? path.resolve(repositoryDir, problem.location.file);
  return { ...problem, location: { ...problem.location, file } };
}

/** One error annotation per problem, on its file and line where it has one. */
export function annotate(problems: readonly Problem[], repositoryDir: string, workspace: string): void {
  for (const problem of problems) {
    const where = problem.location;
    const file = where ? workspacePath(where.file, repositoryDir, workspace) : null;
    if (where && file) {
      core.error(problem.message, {
        file,
        ...(where.line !== undefined ? { startLine: where.line } : {}),
        ...(where.col !== undefined ? { startColumn: where.col } : {}),
      });
    } else {
      core.error(formatProblem(inWorkspace(problem, repositoryDir, workspace)));
    }
  }
  if (problems.length > ANNOTATION_LIMIT) {
    core.info(
      `${problems.length} problems found; GitHub shows only the first ${ANNOTATION_LIMIT} error annotations of a step, so the others are listed only in this log and the job summary.`,
    );
  }
}

/** A bullet list of problems (`file:line:col: message`), inert as Markdown, at most `limit` of them. */
export function problemsMarkdown(problems: readonly Problem[], repositoryDir: string, workspace: string, limit: number): string {
  const lines = problems.slice(0, limit).map((problem) => `- ${escapeMarkdown(formatProblem(inWorkspace(problem, repositoryDir, workspace)))}`);
  if (problems.length > limit) lines.push(`- … and ${problems.length - limit} more (see the job log)`);
  return lines.join('\n');
}
