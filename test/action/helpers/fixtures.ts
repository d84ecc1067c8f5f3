/** A small desired-state repository inside a temporary workspace, and ways to look into its store. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LocalStore } from '../../../src/store/local.js';
import { emptyTempDir } from '../../support/cli.js';

export const FLAG_SCHEMA = JSON.stringify({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['enabled', 'owner'],
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean' },
    owner: { type: 'string' },
    rollout: { type: 'object', properties: { percent: { type: 'integer', minimum: 0, maximum: 100 } } },
  },
});

export const BASE_FILES: Record<string, string> = {
  'statics.yaml': 'store: file://.statics\n',
  'schemas/feature-flags.schema.json': FLAG_SCHEMA,
  'documents/payments/feature-flags/checkout.yaml': 'enabled: true\nowner: payments-team\nrollout:\n  percent: 10\n',
  'documents/payments/feature-flags/refunds.json': '{"owner": "payments-team", "enabled": false}',
  'documents/edge/robots/default.txt': 'User-agent: *\nDisallow: /admin\n',
};

export const BASE_KEYS = ['edge/robots/default', 'payments/feature-flags/checkout', 'payments/feature-flags/refunds'];

export interface Workspace {
  /** GITHUB_WORKSPACE. */
  root: string;
  /** The desired repository inside it (`dir` input). */
  repo: string;
  write(file: string, content: string | Buffer): Promise<void>;
  /** The revision `current` names for each key, from the embedded store. */
  currents(keys?: string[]): Promise<Map<string, string | null>>;
  cleanup(): Promise<void>;
}

/** A workspace whose repository (at `dir` inside it) holds `files`. */
export async function workspaceWith(files: Record<string, string | Buffer> = BASE_FILES, dir = '.'): Promise<Workspace> {
  const temp = await emptyTempDir();
  const repo = path.resolve(temp.dir, dir);
  const write = async (file: string, content: string | Buffer) => {
    const target = path.join(repo, file);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
  };
  for (const [file, content] of Object.entries(files)) await write(file, content);
  return {
    root: temp.dir,
    repo,
    write,
    async currents(keys = BASE_KEYS) {
      const store = new LocalStore(path.join(repo, '.statics'));
      const records = await store.readCurrent(keys);
      return new Map(keys.map((key) => [key, records.get(key)?.revision ?? null]));
    },
    cleanup: temp.cleanup,
  };
}
