/** The peer: rclone against the same s3rver, configured by environment only (no config file). */
import { execFile } from 'node:child_process';
import { cleanEnv } from './measure.js';
import { S3_CREDENTIALS, S3_REGION } from './services.js';

export const REMOTE = 'peer';

export interface RcloneInfo {
  path: string;
  version: string;
}

/** rclone's path and version, or undefined with how to install it. */
export async function findRclone(): Promise<RcloneInfo | { missing: string }> {
  return new Promise((resolve) => {
    execFile('rclone', ['version'], { timeout: 10_000 }, (error, stdout) => {
      if (error) {
        resolve({
          missing:
            'rclone is not installed; the bench compares statics with it. Install it with `apt-get install -y rclone` ' +
            '(Debian/Ubuntu) or from https://rclone.org/install/, or run with --no-peer to measure statics alone.',
        });
        return;
      }
      resolve({ path: 'rclone', version: stdout.split('\n')[0]?.trim() ?? 'rclone' });
    });
  });
}

/** The environment that makes `peer:` an S3 remote on s3rver. */
export function rcloneEnv(endpoint: string): Record<string, string> {
  const name = `RCLONE_CONFIG_${REMOTE.toUpperCase()}`;
  return cleanEnv({
    [`${name}_TYPE`]: 's3',
    [`${name}_PROVIDER`]: 'Other',
    [`${name}_ENDPOINT`]: endpoint,
    [`${name}_ACCESS_KEY_ID`]: S3_CREDENTIALS.accessKeyId,
    [`${name}_SECRET_ACCESS_KEY`]: S3_CREDENTIALS.secretAccessKey,
    [`${name}_REGION`]: S3_REGION,
    [`${name}_FORCE_PATH_STYLE`]: 'true',
    // rclone cannot use a custom CA bundle with its plain-HTTP transport to s3rver.
    AWS_CA_BUNDLE: undefined,
    // No config file: everything comes from the variables above.
    RCLONE_CONFIG: '/dev/null',
  });
}

/** `rclone sync --fast-list --checksum [--dry-run] SOURCE peer:BUCKET` (s3rver needs --fast-list). */
export function syncArgs(source: string, bucket: string, options: { dryRun?: boolean; extra?: string[] } = {}): string[] {
  return ['sync', '--fast-list', '--checksum', ...(options.dryRun ? ['--dry-run'] : []), ...(options.extra ?? []), source, `${REMOTE}:${bucket}`];
}
