import { execFile } from 'node:child_process';

/** The commit checked out in `dir`, or undefined outside a git work tree (or without git). */
export function gitCommit(dir: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('git', ['-C', dir, 'rev-parse', '--verify', '-q', 'HEAD'], { timeout: 5000 }, (error, stdout) => {
      const commit = stdout?.trim();
      resolve(!error && /^[0-9a-f]{40,64}$/.test(commit) ? commit : undefined);
    });
  });
}
