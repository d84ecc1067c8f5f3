import { hostname, userInfo } from 'node:os';

/** Who applies: the GitHub actor where there is one, else user@host. */
export function actorFromEnvironment(env: Record<string, string | undefined>): string {
  if (env.GITHUB_ACTOR) return githubActor(env.GITHUB_ACTOR);
  let user = env.USER ?? env.LOGNAME;
  try {
    user ??= userInfo().username;
  } catch {
    user ??= 'unknown';
  }
  return `${user}@${hostname()}`;
}

/** How a GitHub Actions run is recorded as the actor of a transition. */
export function githubActor(actor: string | undefined): string {
  return actor ? `${actor} (GitHub Actions)` : 'GitHub Actions';
}
