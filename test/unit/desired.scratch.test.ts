import { it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { readDesired } from '../../src/desired/index.js';
import { formatProblem } from '../../src/errors.js';
it('scratch', async () => {
  const root = mkdtempSync(join(tmpdir(), 'scr-'));
  cpSync('examples/basic/schemas', join(root, 'schemas'), { recursive: true });
  const files: Record<string, string> = {
    'documents/payments/feature-flags/bad.yaml': [
      '# comment',
      'enabled: "yes"',
      'description: short',
      'colour: red',
      'rollout:',
      '  percent: 150',
      '  stickiness: always',
      'allowlist:',
      '  users: [a, a]',
      '  merchants:',
      '    - m_ok',
      '    - not-a-merchant',
      'expires: 2024-13-45',
      '',
    ].join('\n'),
    'documents/payments/feature-flags/bad2.json': '{\n  "enabled": true,\n  "rollout": {"stickiness": "user"},\n  "owner": "team-x", "description": "long enough text"\n}\n',
    'documents/search/feature-flags/x.yaml': 'enabled: true\ndescription: long enough text\nowner: team-a\n',
  };
  for (const [p, c] of Object.entries(files)) { mkdirSync(dirname(join(root, p)), { recursive: true }); writeFileSync(join(root, p), c); }
  for await (const item of readDesired(root, { maxFileBytes: 5 << 20, mediaTypes: {} })) {
    if ('problem' in item) console.log('P', item.problem.code, formatProblem(item.problem));
    else console.log('D', item.document.key, item.document.bytes.toString());
  }
});
