import { execFile } from 'node:child_process';

/**
 * The commit checked out in `dir`, or undefined outside a git work tree, without git, or when the
 * desired files differ from that commit (recording it would claim content it does not hold).
 */
export async function gitCommit(dir: string): Promise<string | undefined> {
  const commit = (await git(dir, ['rev-parse', '--verify', '-q', 'HEAD']))?.trim();
  if (!commit || !/^[0-9a-f]{40,64}$/.test(commit)) return undefined;
  const changes = await git(dir, ['status', '--porcelain', '--', 'documents', 'schemas', 'statics.yaml']);
  return changes === '' ? commit : undefined;
}

function git(dir: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('git', ['-C', dir, ...args], { timeout: 5000 }, (error, stdout) => resolve(error ? undefined : stdout));
  });
}
