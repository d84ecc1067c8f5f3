/** The one sticky plan comment per pull request and target: found by its marker, created or updated. */
import type { getOctokit } from '@actions/github';
import { parseMarker, sameTarget, type CommentTarget, type Marker } from './marker.js';

export type GitHubClient = ReturnType<typeof getOctokit>;

export interface IssueRef {
  owner: string;
  repo: string;
  number: number;
}

export interface StickyComment {
  id: number;
  url: string;
  marker: Marker;
}

/** GitHub's limit on a comment body. */
export const COMMENT_LIMIT = 65_536;

/**
 * The first comment on the pull request carrying the marker for `target`, searching every page.
 * Only comments written by a bot count (GITHUB_TOKEN writes as github-actions[bot], an app token as
 * its app): anyone can comment on a public pull request, and a hand-written marker must not be
 * taken as the reviewed plan.
 */
export async function findSticky(github: GitHubClient, issue: IssueRef, target: CommentTarget): Promise<StickyComment | null> {
  const pages = github.paginate.iterator(github.rest.issues.listComments, {
    owner: issue.owner,
    repo: issue.repo,
    issue_number: issue.number,
    per_page: 100,
  });
  for await (const page of pages) {
    for (const comment of page.data) {
      if (comment.user?.type !== 'Bot') continue;
      const marker = parseMarker(comment.body ?? '');
      // Returning stops the iterator: later pages are not fetched.
      if (marker && sameTarget(marker, target)) return { id: comment.id, url: comment.html_url, marker };
    }
  }
  return null;
}

/** Updates `existing` or creates the comment; returns its URL. */
export async function writeSticky(github: GitHubClient, issue: IssueRef, existing: StickyComment | null, body: string): Promise<{ url: string; created: boolean }> {
  if (body.length > COMMENT_LIMIT) throw new Error(`comment of ${body.length} characters is over GitHub's limit of ${COMMENT_LIMIT}`);
  if (existing) {
    const { data } = await github.rest.issues.updateComment({ owner: issue.owner, repo: issue.repo, comment_id: existing.id, body });
    return { url: data.html_url, created: false };
  }
  const { data } = await github.rest.issues.createComment({ owner: issue.owner, repo: issue.repo, issue_number: issue.number, body });
  return { url: data.html_url, created: true };
}

/** A 403 from GitHub: a read-only token (a fork's pull request) or a missing `pull-requests: write`. */
export function isPermissionError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { status?: unknown }).status === 403;
}

/** The merged pull request that produced `sha` (merge, squash or rebase), if any. */
export async function mergedPullRequestOf(github: GitHubClient, owner: string, repo: string, sha: string): Promise<number | null> {
  const { data } = await github.rest.repos.listPullRequestsAssociatedWithCommit({ owner, repo, commit_sha: sha, per_page: 100 });
  const merged = data.filter((pull) => pull.merged_at);
  const exact = merged.find((pull) => pull.merge_commit_sha === sha);
  return (exact ?? merged[0])?.number ?? null;
}
