import picomatch from 'picomatch';
import { StaticsError } from '../errors.js';

/**
 * `--target GLOB` selects documents by key. A glob matching a key's domain or domain/type selects
 * everything below it, so `payments` and `payments/feature-flags` work as users expect.
 */
export function targetMatcher(targets: readonly string[]): (key: string) => boolean {
  if (targets.length === 0) return () => true;
  const matchers = targets.map((target) => {
    if (!target.trim()) throw new StaticsError('usage', '--target needs a glob such as payments/** or */feature-flags/*');
    return picomatch(target.replace(/\/+$/, ''), { dot: true });
  });
  return (key) => {
    const [domain, type] = key.split('/');
    const scopes = [key, `${domain}/${type}`, domain ?? ''];
    return matchers.some((matches) => scopes.some((scope) => matches(scope)));
  };
}

/** The targets that select none of `keys`: a typo in a glob must not read as "no changes". */
export function unmatchedTargets(targets: readonly string[], keys: readonly string[]): string[] {
  return targets.filter((target) => {
    const matches = targetMatcher([target]);
    return !keys.some(matches);
  });
}
