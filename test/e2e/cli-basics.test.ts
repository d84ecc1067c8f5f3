import { readFile, writeFile, symlink, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repositoryOf, runCli, snapshot } from '../support/cli.js';

const FLAG_SCHEMA = JSON.stringify({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['enabled', 'owner'],
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean' },
    owner: { type: 'string' },
    rollout: { type: 'object', properties: { percent: { type: 'integer', minimum: 0, maximum: 100 } } },
    regions: { type: 'array', items: { type: 'string' } },
  },
});

const FLAG = `enabled: true
owner: payments-team
rollout:
  percent: 10
regions: [eu-west-1, us-east-1]
`;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function repo(extra: Record<string, string | Buffer> = {}) {
  const made = await repositoryOf({
    'schemas/feature-flags.schema.json': FLAG_SCHEMA,
    'documents/payments/feature-flags/checkout.yaml': FLAG,
    'documents/payments/feature-flags/refunds.json': '{"owner": "payments-team", "enabled": false}',
    'documents/edge/robots/default.txt': 'User-agent: *\nDisallow: /admin\n',
    ...extra,
  });
  cleanups.push(made.cleanup);
  return made.dir;
}

describe('the plan/apply loop on the embedded store', () => {
  it('plans creates, applies them, then has nothing to change', async () => {
    const dir = await repo();
    const first = await runCli(['plan', dir, '--detailed-exitcode']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(2);
    expect(first.stdout).toContain('Plan: 3 to create, 0 to update, 0 to delete, 0 unchanged.');
    expect(first.stdout).toMatch(/\+ create payments\/feature-flags\/checkout/);

    const apply = await runCli(['apply', dir, '--auto-approve']);
    expect(apply.code).toBe(0);
    expect(apply.stdout).toMatch(/3 applied/);

    const second = await runCli(['plan', dir, '--detailed-exitcode']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('Plan: 0 to create, 0 to update, 0 to delete, 3 unchanged.');

    const stored = await runCli(['get', 'payments/feature-flags/checkout', '--dir', dir]);
    expect(stored.code).toBe(0);
    expect(JSON.parse(stored.stdout)).toEqual({ enabled: true, owner: 'payments-team', rollout: { percent: 10 }, regions: ['eu-west-1', 'us-east-1'] });
    // Canonical form: sorted keys, two spaces, trailing newline.
    expect(stored.stdout.startsWith('{\n  "enabled": true,\n  "owner"')).toBe(true);
    expect(stored.stdout.endsWith('}\n')).toBe(true);
  });

  it('shows exactly the changed path, and no change for reordered or re-indented keys', async () => {
    const dir = await repo();
    expect((await runCli(['apply', dir, '--auto-approve'])).code).toBe(0);
    const file = path.join(dir, 'documents/payments/feature-flags/checkout.yaml');

    await writeFile(file, `regions:\n    - eu-west-1\n    - us-east-1\nrollout: {percent: 10}\nowner: payments-team\nenabled: true\n`);
    const reordered = await runCli(['plan', dir, '--detailed-exitcode']);
    expect(reordered.code).toBe(0);

    await writeFile(file, FLAG.replace('percent: 10', 'percent: 25'));
    const edited = await runCli(['plan', dir, '--detailed-exitcode', '--format', 'json']);
    expect(edited.code).toBe(2);
    const plan = JSON.parse(edited.stdout);
    const changed = plan.entries.filter((e: { action: string }) => e.action !== 'no-op');
    expect(changed).toHaveLength(1);
    expect(changed[0].key).toBe('payments/feature-flags/checkout');
    expect(changed[0].change.patch).toEqual([{ op: 'replace', path: '/rollout/percent', value: 25, oldValue: 10 }]);

    const text = await runCli(['plan', dir]);
    expect(text.stdout).toMatch(/~ update payments\/feature-flags\/checkout/);
    expect(text.stdout).toMatch(/rollout\.percent/);
    expect(text.stdout).toMatch(/10 → 25/);
  });

  it('applies a saved plan exactly, reporting a document another writer moved as stale', async () => {
    const dir = await repo();
    expect((await runCli(['apply', dir, '--auto-approve'])).code).toBe(0);
    const checkout = path.join(dir, 'documents/payments/feature-flags/checkout.yaml');
    const robots = path.join(dir, 'documents/edge/robots/default.txt');
    await writeFile(checkout, FLAG.replace('percent: 10', 'percent: 50'));
    await writeFile(robots, 'User-agent: *\nDisallow: /\n');
    const planFile = path.join(dir, 'reviewed.plan.json');
    expect((await runCli(['plan', dir, '--out', planFile])).code).toBe(0);

    // Someone else moves checkout after the plan was reviewed.
    await writeFile(checkout, FLAG.replace('percent: 10', 'percent: 99'));
    expect((await runCli(['apply', dir, '--auto-approve', '--target', 'payments/**'])).code).toBe(0);
    // And the files change again after the review: the saved plan must not pick that up.
    await writeFile(robots, 'User-agent: *\nDisallow: /changed-after-review\n');

    const apply = await runCli(['apply', planFile]);
    expect(apply.code).toBe(1);
    expect(apply.stdout).toMatch(/stale/);
    expect(apply.stderr).toMatch(/^statics: 1 stale \(payments\/feature-flags\/checkout\): .*plan again/);
    expect(apply.stdout).toMatch(/1 applied/);
    const checkoutNow = JSON.parse((await runCli(['get', 'payments/feature-flags/checkout', '--dir', dir])).stdout);
    expect(checkoutNow.rollout.percent).toBe(99);
    const robotsNow = (await runCli(['get', 'edge/robots/default', '--dir', dir])).stdout;
    expect(robotsNow).toBe('User-agent: *\nDisallow: /\n');

    // Applying the same plan again changes nothing more and still reports the stale one.
    const again = await runCli(['apply', planFile]);
    expect(again.stdout).toMatch(/already current/);
    expect(again.code).toBe(1);
  });

  it('refuses to apply without approval when not on a terminal, writing nothing', async () => {
    const dir = await repo();
    const result = await runCli(['apply', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--auto-approve/);
    expect((await snapshot(path.join(dir, '.statics'))).size).toBe(0);
  });

  it('keeps history and rolls back by a unique revision prefix', async () => {
    const dir = await repo();
    const file = path.join(dir, 'documents/payments/feature-flags/checkout.yaml');
    expect((await runCli(['apply', dir, '--auto-approve'])).code).toBe(0);
    const first = JSON.parse((await runCli(['history', 'payments/feature-flags/checkout', '--dir', dir, '--json'])).stdout);
    await writeFile(file, FLAG.replace('enabled: true', 'enabled: false'));
    expect((await runCli(['apply', dir, '--auto-approve'])).code).toBe(0);

    const history = JSON.parse((await runCli(['history', 'payments/feature-flags/checkout', '--dir', dir, '--json'])).stdout);
    expect(history.transitions).toHaveLength(2);
    expect(history.transitions[0].previous).toBe(history.transitions[1].revision);
    expect(history.current).toBe(history.transitions[0].revision);

    const originalRevision: string = first.current;
    const rolled = await runCli(['rollback', 'payments/feature-flags/checkout', '--to', originalRevision.slice(0, 8), '--dir', dir]);
    expect(rolled.stderr).toBe('');
    expect(rolled.code).toBe(0);
    const now = JSON.parse((await runCli(['get', 'payments/feature-flags/checkout', '--dir', dir])).stdout);
    expect(now.enabled).toBe(true);
    const after = JSON.parse((await runCli(['history', 'payments/feature-flags/checkout', '--dir', dir, '--json'])).stdout);
    expect(after.transitions[0]).toMatchObject({ action: 'rollback', revision: originalRevision, previous: history.current });

    const text = await runCli(['history', 'payments/feature-flags/checkout', '--dir', dir]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(originalRevision.slice(0, 12));
  });

  it('prunes only when asked, and refuses to delete everything', async () => {
    const dir = await repo();
    expect((await runCli(['apply', dir, '--auto-approve'])).code).toBe(0);
    const { rm } = await import('node:fs/promises');
    await rm(path.join(dir, 'documents/edge/robots/default.txt'));

    const without = await runCli(['plan', dir, '--detailed-exitcode']);
    expect(without.code).toBe(0);
    expect(without.stdout).toContain('1 document in the store has no file here and is left alone; plan with --prune to delete it.');
    const withoutJson = JSON.parse((await runCli(['plan', dir, '--format', 'json'])).stdout);
    expect(withoutJson.summary).toEqual({ create: 0, update: 0, delete: 0, unchanged: 2, unmanaged: 1 });
    // Out of the targets' scope, it is not counted.
    expect(JSON.parse((await runCli(['plan', dir, '--format', 'json', '--target', 'payments'])).stdout).summary.unmanaged).toBeUndefined();
    const withPrune = await runCli(['plan', dir, '--prune', '--detailed-exitcode']);
    expect(withPrune.code).toBe(2);
    expect(withPrune.stdout).toContain('Plan: 0 to create, 0 to update, 1 to delete, 2 unchanged.');
    expect((await runCli(['apply', dir, '--prune', '--auto-approve'])).code).toBe(0);
    const gone = await runCli(['get', 'edge/robots/default', '--dir', dir]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/no current revision/);

    await rm(path.join(dir, 'documents'), { recursive: true });
    await mkdir(path.join(dir, 'documents'));
    const wipe = await runCli(['plan', dir, '--prune']);
    expect(wipe.code).toBe(1);
    expect(wipe.stderr).toMatch(/refusing a plan that deletes every document in the store/);
    expect(wipe.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('limits a plan to --target globs', async () => {
    const dir = await repo();
    const result = await runCli(['plan', dir, '--target', 'edge', '--format', 'json']);
    expect(result.code).toBe(0);
    const keys = JSON.parse(result.stdout).entries.map((e: { key: string }) => e.key);
    expect(keys).toEqual(['edge/robots/default']);
    const typo = await runCli(['plan', dir, '--target', 'edge', '--target', 'paymnts/*', '--detailed-exitcode']);
    expect(typo.code).toBe(1);
    expect(typo.stderr.trim()).toBe('statics: --target "paymnts/*" matches no document in the repository');
  });
});

describe('bad input: one line naming the file, exit 1, store untouched', () => {
  async function expectRejected(files: Record<string, string | Buffer>, pattern: RegExp, args: string[] = []) {
    const dir = await repo(files);
    const before = await snapshot(path.join(dir, '.statics'));
    const result = await runCli(['apply', dir, '--auto-approve', ...args]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(pattern);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(await snapshot(path.join(dir, '.statics'))).toEqual(before);
    return result;
  }

  it('malformed YAML', async () => {
    const result = await expectRejected({ 'documents/payments/feature-flags/broken.yaml': 'enabled: true\nowner: [unclosed\n' }, /documents\/payments\/feature-flags\/broken\.yaml:\d+:\d+: /);
    expect(result.stderr.split('\n').filter((line) => line.includes('broken.yaml'))).toHaveLength(1);
  });

  it('a duplicate key', async () => {
    await expectRejected({ 'documents/payments/feature-flags/dup.yaml': 'enabled: true\nowner: a\nenabled: false\n' }, /dup\.yaml:3:1: .*(duplicate|unique)/i);
  });

  it('a schema violation, every one of them with its line', async () => {
    const result = await expectRejected(
      { 'documents/payments/feature-flags/bad.yaml': 'enabled: "yes"\nowner: x\nrollout:\n  percent: 150\ncolour: red\n' },
      /bad\.yaml:1:10: /,
    );
    expect(result.stderr).toMatch(/bad\.yaml:4:12: /);
    expect(result.stderr).toMatch(/bad\.yaml:5:1: .*colour/);
  });

  it('an invalid name', async () => {
    await expectRejected({ 'documents/payments/feature flags/x.yaml': 'a: 1\n' }, /feature flags.*(name|match)/i);
  });

  it('a symlink out of the repository', async () => {
    const dir = await repo();
    await symlink('/etc/hostname', path.join(dir, 'documents/edge/robots/escape.txt'));
    const result = await runCli(['plan', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/escape\.txt: .*(outside|leaves)/i);
  });

  it('an oversized file', async () => {
    const dir = await repo({ 'statics.yaml': 'maxFileSize: 1KiB\n', 'documents/edge/robots/big.txt': 'x'.repeat(2048) });
    const result = await runCli(['plan', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/big\.txt: .*(large|limit)/i);
  });

  it('a corrupt, a foreign and an altered plan file', async () => {
    const dir = await repo();
    const corrupt = path.join(dir, 'corrupt.json');
    await writeFile(corrupt, '{"format": "statics-plan", ');
    let result = await runCli(['apply', corrupt]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/corrupt\.json: not a statics plan file/);

    const foreign = path.join(dir, 'package.json');
    await writeFile(foreign, '{"name": "something-else"}');
    result = await runCli(['apply', foreign]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/package\.json: not a statics plan file/);

    const planFile = path.join(dir, 'p.json');
    expect((await runCli(['plan', dir, '--out', planFile])).code).toBe(0);
    const plan = JSON.parse(await readFile(planFile, 'utf8'));
    plan.entries[0].content.data = plan.entries[0].content.data.replace(/.$/s, '!');
    await writeFile(planFile, JSON.stringify(plan));
    result = await runCli(['apply', planFile]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/p\.json: .*altered/);
    expect((await snapshot(path.join(dir, '.statics'))).size).toBe(0);
  });

  it('an unknown flag or command', async () => {
    let result = await runCli(['plan', '--frobnicate']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/^statics: plan: unknown option '--frobnicate'/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    result = await runCli(['plan', '--prnue']);
    expect(result.stderr.trim()).toMatch(/^statics: plan: unknown option '--prnue'; did you mean --prune\?/);
    result = await runCli(['plna']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('statics: unknown command "plna"; did you mean "plan"? (see statics --help)');
    result = await runCli(['frobnicate']);
    expect(result.stderr.trim()).toBe('statics: unknown command "frobnicate" (see statics --help)');
  });

  it('a repository that is a file, an --out that cannot be written, a plan file that is not JSON', async () => {
    const dir = await repo();
    let result = await runCli(['validate', path.join(dir, 'documents/edge/robots/default.txt')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/default\.txt is not a directory/);
    result = await runCli(['plan', dir, '--out', path.join(dir, 'missing-folder/p.json')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim()).toMatch(/^statics: --out: cannot write .*missing-folder/);
    const notJson = path.join(dir, 'notes.json');
    await writeFile(notJson, 'not json\n');
    result = await runCli(['apply', notJson]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/notes\.json: not a statics plan file/);
  });

  it('an invalid statics.yaml names its line', async () => {
    const dir = await repo({ 'statics.yaml': 'store: file://.statics\nprune: sometimes\n' });
    const result = await runCli(['plan', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/statics\.yaml:2:8: prune: must be boolean/);
  });
});

describe('help', () => {
  it('lists the commands and each command explains itself', async () => {
    const main = await runCli(['--help']);
    expect(main.code).toBe(0);
    for (const command of ['validate', 'plan', 'apply', 'init', 'get', 'history', 'rollback', 'unlock', 'watch', 'mirror']) {
      expect(main.stdout).toContain(`  ${command}`);
      const help = await runCli([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: statics ${command}`));
    }
  });
});
