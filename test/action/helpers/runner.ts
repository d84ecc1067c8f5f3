/**
 * Runs the bundled action as a GitHub runner does: from a checkout of the action holding only
 * action.yml and dist/ (no package.json, no node_modules: the bundle must be self-contained),
 * `node dist/index.mjs` with INPUT_* variables
 * (action.yml defaults filled in, names upper-cased with dashes kept), the event payload in a file,
 * and fresh GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files; then reads back outputs, the summary and
 * the workflow commands (annotations) printed on stdout.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../support/cli.js';
import { OWNER, REPO, type FakeGitHub } from './fake-github.js';

export const ACTION_YML = path.join(PROJECT_ROOT, 'action.yml');
export const TOKEN = 'ghs_test_token_0123456789';
export const SERVER_URL = 'https://github.example';
export const RUN_ID = '4242';
export const RUN_URL = `${SERVER_URL}/${OWNER}/${REPO}/actions/runs/${RUN_ID}`;

interface ActionManifest {
  runs: { using: string; main: string };
  inputs: Record<string, { default?: string; required?: boolean }>;
  outputs: Record<string, { description: string }>;
}

export function manifest(): ActionManifest {
  return parse(readFileSync(ACTION_YML, 'utf8')) as ActionManifest;
}

export interface Annotation {
  level: string;
  properties: Record<string, string>;
  message: string;
}

export interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  annotations: Annotation[];
  /** The file named by the plan-file output, read before the runner's temp dir goes. */
  planFile: string | null;
}

export interface RunOptions {
  inputs: Record<string, string>;
  event: string;
  payload: object;
  workspace: string;
  github: FakeGitHub;
  sha?: string;
  ref?: string;
  env?: Record<string, string>;
}

const SHA = 'c0ffee0000000000000000000000000000000001';

let checkout: Promise<string> | undefined;

/** What a runner downloads for `uses: owner/statics@v1`, minus the sources: action.yml and dist/. */
function actionCheckout(): Promise<string> {
  checkout ??= (async () => {
    if (!existsSync(path.join(PROJECT_ROOT, manifest().runs.main))) throw new Error(`${manifest().runs.main} is missing: run npm run bundle`);
    const dir = await mkdtemp(path.join(tmpdir(), 'statics-action-checkout-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    await cp(ACTION_YML, path.join(dir, 'action.yml'));
    await cp(path.join(PROJECT_ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
    return dir;
  })();
  return checkout;
}

export async function runAction(options: RunOptions): Promise<ActionRun> {
  const spec = manifest();
  const entry = path.join(await actionCheckout(), spec.runs.main);
  const temp = await mkdtemp(path.join(tmpdir(), 'statics-action-'));
  try {
    const files = {
      event: path.join(temp, 'event.json'),
      output: path.join(temp, 'output'),
      summary: path.join(temp, 'step_summary'),
      runnerTemp: path.join(temp, 'runner-temp'),
    };
    await writeFile(files.event, JSON.stringify(options.payload));
    await writeFile(files.output, '');
    await writeFile(files.summary, '');

    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(process.env)) {
      // Nothing of the test process's own CI, AWS or statics settings leaks in.
      if (value === undefined || /^(INPUT_|GITHUB_|RUNNER_|ACTIONS_|STATICS_|AWS_)/.test(name)) continue;
      env[name] = value;
    }
    // The runner sets every input with a default, evaluating expressions such as github.token.
    for (const [name, input] of Object.entries(spec.inputs)) {
      if (input.default === undefined) continue;
      env[inputVariable(name)] = input.default.replace(/\$\{\{\s*github\.token\s*\}\}/g, TOKEN);
    }
    for (const [name, value] of Object.entries(options.inputs)) {
      if (!(name in spec.inputs)) throw new Error(`action.yml has no input "${name}"`);
      env[inputVariable(name)] = value;
    }
    Object.assign(env, {
      CI: 'true',
      NO_COLOR: '1',
      GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: options.event,
      GITHUB_EVENT_PATH: files.event,
      GITHUB_REPOSITORY: `${OWNER}/${REPO}`,
      GITHUB_REPOSITORY_OWNER: OWNER,
      GITHUB_WORKSPACE: options.workspace,
      GITHUB_SHA: options.sha ?? SHA,
      GITHUB_REF: options.ref ?? 'refs/heads/main',
      GITHUB_API_URL: options.github.url,
      GITHUB_SERVER_URL: SERVER_URL,
      GITHUB_RUN_ID: RUN_ID,
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_ACTOR: 'octocat',
      GITHUB_OUTPUT: files.output,
      GITHUB_STEP_SUMMARY: files.summary,
      RUNNER_TEMP: files.runnerTemp,
      NO_PROXY: '127.0.0.1,localhost',
      ...options.env,
    });

    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [entry], { cwd: options.workspace, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
      child.on('error', reject);
      child.on('close', (exit) => resolve({ code: exit ?? -1, stdout: out, stderr: err }));
    });
    const outputs = parseOutputs(await readFile(files.output, 'utf8'));
    return {
      code,
      stdout,
      stderr,
      outputs,
      planFile: outputs['plan-file'] ? await readFile(outputs['plan-file'], 'utf8').catch(() => null) : null,
      summary: await readFile(files.summary, 'utf8'),
      annotations: parseAnnotations(stdout),
    };
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/** As the runner names them: `INPUT_` and the name upper-cased, spaces as `_`, dashes kept. */
export function inputVariable(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/** GITHUB_OUTPUT's `name<<DELIMITER` … `DELIMITER` blocks. */
function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<]+)<<(.+)$/.exec(lines[i]!);
    if (!match) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== match[2]; i++) value.push(lines[i]!);
    outputs[match[1]!] = value.join('\n');
  }
  return outputs;
}

const unescapeData = (text: string) => text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
const unescapeProperty = (text: string) => unescapeData(text).replace(/%3A/g, ':').replace(/%2C/g, ',');

/** `::error file=…,line=…,col=…::message` lines. */
function parseAnnotations(stdout: string): Annotation[] {
  const annotations: Annotation[] = [];
  for (const line of stdout.split('\n')) {
    const match = /^::(error|warning|notice)(?: ([^:]*))?::(.*)$/.exec(line);
    if (!match) continue;
    const properties: Record<string, string> = {};
    for (const pair of (match[2] ?? '').split(',').filter(Boolean)) {
      const at = pair.indexOf('=');
      properties[pair.slice(0, at)] = unescapeProperty(pair.slice(at + 1));
    }
    annotations.push({ level: match[1]!, properties, message: unescapeData(match[3]!) });
  }
  return annotations;
}

// ---- event payloads, shaped as GitHub sends them (the fields the action reads, and a few more) ----

const repository = {
  id: 1,
  name: REPO,
  full_name: `${OWNER}/${REPO}`,
  owner: { login: OWNER, type: 'Organization' },
  default_branch: 'main',
  private: false,
};

export function pullRequestPayload(number: number, options: { fork?: boolean; headSha?: string } = {}): object {
  const head = options.fork ? { full_name: `forker/${REPO}`, owner: { login: 'forker' }, fork: true } : { ...repository, fork: false };
  return {
    action: 'synchronize',
    number,
    pull_request: {
      number,
      state: 'open',
      title: 'Change the flags',
      head: { ref: 'feature', sha: options.headSha ?? 'feed000000000000000000000000000000000001', repo: head, label: 'feature' },
      base: { ref: 'main', sha: 'base000000000000000000000000000000000001'.replace(/[^0-9a-f]/g, '0'), repo: repository },
      merged: false,
    },
    repository,
    sender: { login: 'octocat', type: 'User' },
  };
}

export function pushPayload(sha: string, ref = 'refs/heads/main'): object {
  return {
    ref,
    before: '0000000000000000000000000000000000000000',
    after: sha,
    created: false,
    deleted: false,
    head_commit: { id: sha, message: 'Merge pull request #7' },
    repository,
    pusher: { name: 'octocat' },
    sender: { login: 'octocat', type: 'User' },
  };
}
