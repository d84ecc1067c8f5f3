/**
 * A local stand-in for the few GitHub REST endpoints the action uses, for the real Octokit client
 * to talk to: issue comments (listing with Link-header pagination, create, update) and the pull
 * requests of a commit. It keeps the comments it holds, records every request, enforces GitHub's
 * comment size limit, and can answer writes as a fork's read-only token gets answered.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const OWNER = 'acme';
export const REPO = 'config';
export const BOT = { login: 'github-actions[bot]', type: 'Bot' } as const;
export const HUMAN = { login: 'mallory', type: 'User' } as const;

export interface FakeComment {
  id: number;
  issue: number;
  body: string;
  user: { login: string; type: string };
}

export interface FakePull {
  number: number;
  merged_at: string | null;
  merge_commit_sha: string | null;
  state: 'open' | 'closed';
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization: string | undefined;
}

export interface FakeGitHub {
  url: string;
  comments: FakeComment[];
  /** Pull requests by commit sha, for GET /repos/{o}/{r}/commits/{sha}/pulls. */
  pullsOfCommit: Map<string, FakePull[]>;
  /** Writes answer 403 "Resource not accessible by integration", as for a fork's token. */
  readOnly: boolean;
  requests: RecordedRequest[];
  addComment(issue: number, body: string, user?: { login: string; type: string }): FakeComment;
  commentsOn(issue: number): FakeComment[];
  stop(): Promise<void>;
}

export async function startFakeGitHub(): Promise<FakeGitHub> {
  let nextId = 1000;
  const state = {
    url: '',
    comments: [] as FakeComment[],
    pullsOfCommit: new Map<string, FakePull[]>(),
    readOnly: false,
    requests: [] as RecordedRequest[],
  };

  const view = (comment: FakeComment) => ({
    id: comment.id,
    node_id: `IC_${comment.id}`,
    url: `${state.url}/repos/${OWNER}/${REPO}/issues/comments/${comment.id}`,
    html_url: `https://github.example/${OWNER}/${REPO}/pull/${comment.issue}#issuecomment-${comment.id}`,
    issue_url: `${state.url}/repos/${OWNER}/${REPO}/issues/${comment.issue}`,
    body: comment.body,
    user: { ...comment.user, id: comment.user.type === 'Bot' ? 41898282 : 7 },
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    author_association: comment.user.type === 'Bot' ? 'NONE' : 'CONTRIBUTOR',
  });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', state.url);
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = undefined;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      state.requests.push({
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        body,
        authorization: req.headers.authorization,
      });
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        res.end(JSON.stringify(payload));
      };
      const forbidden = () =>
        send(403, {
          message: 'Resource not accessible by integration',
          documentation_url: 'https://docs.github.com/rest/issues/comments',
          status: '403',
        });
      const tooLong = (value: unknown) => typeof value === 'string' && value.length > 65_536;
      const invalid = () =>
        send(422, {
          message: 'Validation Failed',
          errors: [{ resource: 'IssueComment', code: 'custom', field: 'body', message: 'body is too long (maximum is 65536 characters)' }],
          status: '422',
        });

      const repoPrefix = `/repos/${OWNER}/${REPO}`;
      if (!url.pathname.startsWith(`${repoPrefix}/`)) return send(404, { message: 'Not Found', status: '404' });
      const rest = url.pathname.slice(repoPrefix.length);
      let match: RegExpExecArray | null;

      if ((match = /^\/issues\/(\d+)\/comments$/.exec(rest))) {
        const issue = Number(match[1]);
        if (req.method === 'GET') {
          const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 30) || 30));
          const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
          const all = state.comments.filter((c) => c.issue === issue);
          const last = Math.max(1, Math.ceil(all.length / perPage));
          const link = (p: number) => `<${state.url}${url.pathname}?per_page=${perPage}&page=${p}>`;
          const links: string[] = [];
          if (page < last) links.push(`${link(page + 1)}; rel="next"`, `${link(last)}; rel="last"`);
          if (page > 1) links.push(`${link(1)}; rel="first"`, `${link(page - 1)}; rel="prev"`);
          return send(200, all.slice((page - 1) * perPage, page * perPage).map(view), links.length ? { link: links.join(', ') } : {});
        }
        if (req.method === 'POST') {
          if (state.readOnly) return forbidden();
          const value = (body as { body?: unknown } | undefined)?.body;
          if (typeof value !== 'string') return send(422, { message: 'Invalid request: body is missing', status: '422' });
          if (tooLong(value)) return invalid();
          return send(201, view(fake.addComment(issue, value)));
        }
      }
      if ((match = /^\/issues\/comments\/(\d+)$/.exec(rest)) && req.method === 'PATCH') {
        if (state.readOnly) return forbidden();
        const comment = state.comments.find((c) => c.id === Number(match![1]));
        if (!comment) return send(404, { message: 'Not Found', status: '404' });
        const value = (body as { body?: unknown } | undefined)?.body;
        if (typeof value !== 'string') return send(422, { message: 'Invalid request: body is missing', status: '422' });
        if (tooLong(value)) return invalid();
        comment.body = value;
        return send(200, view(comment));
      }
      if ((match = /^\/commits\/([0-9a-f]{7,64})\/pulls$/.exec(rest)) && req.method === 'GET') {
        const pulls = state.pullsOfCommit.get(match[1]!) ?? [];
        return send(
          200,
          pulls.map((pull) => ({
            ...pull,
            id: pull.number * 10,
            url: `${state.url}${repoPrefix}/pulls/${pull.number}`,
            html_url: `https://github.example/${OWNER}/${REPO}/pull/${pull.number}`,
            base: { ref: 'main', repo: { full_name: `${OWNER}/${REPO}` } },
          })),
        );
      }
      return send(404, { message: 'Not Found', status: '404' });
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fake: FakeGitHub = Object.assign(state, {
    addComment(issue: number, body: string, user: { login: string; type: string } = BOT) {
      const comment = { id: nextId++, issue, body, user: { ...user } };
      state.comments.push(comment);
      return comment;
    },
    commentsOn(issue: number) {
      return state.comments.filter((c) => c.issue === issue);
    },
    stop() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  return fake;
}
