/** Redis URLs: parsing (`redis[s]://[user:password@]host[:port][/db]`) and redaction. */
import { StaticsError } from '../errors.js';

/** The URL with any password replaced by `***`, safe for messages and logs. */
export function redactRedisUrl(url: string): string {
  // By hand rather than with URL: a password with an unencoded `/` or `@` must not leak either.
  const scheme = url.indexOf('://');
  if (scheme < 0) return url.includes('@') ? '***' : url;
  const at = url.lastIndexOf('@');
  if (at < scheme) return url;
  const userinfo = url.slice(scheme + 3, at);
  const colon = userinfo.indexOf(':');
  // Without a colon, some clients read the userinfo as the password: hide it all.
  const shown = colon < 0 ? '***' : `${userinfo.slice(0, colon)}:***`;
  return `${url.slice(0, scheme + 3)}${shown}${url.slice(at)}`;
}

export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  tls: boolean;
  username?: string;
  password?: string;
}

/** Parsed here rather than by ioredis so the scheme check, TLS and percent-decoding are ours to test. */
export function parseRedisUrl(url: string, redacted: string): RedisTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StaticsError('config', `invalid Redis URL ${redacted}: expected redis://[user:password@]host[:port][/db] (percent-encode special characters in the password)`);
  }
  const scheme = parsed.protocol.toLowerCase();
  if (scheme !== 'redis:' && scheme !== 'rediss:') {
    throw new StaticsError('config', `invalid Redis URL ${redacted}: the scheme must be redis:// or rediss:// (TLS)`);
  }
  if (parsed.search || parsed.hash) {
    throw new StaticsError('config', `invalid Redis URL ${redacted}: query options are not supported`);
  }
  const path = parsed.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d+$/.test(path)) {
    throw new StaticsError('config', `invalid Redis URL ${redacted}: the path must be a database number`);
  }
  if (!parsed.hostname) throw new StaticsError('config', `invalid Redis URL ${redacted}: no host`);
  const target: RedisTarget = {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : 6379,
    db: path ? Number(path) : 0,
    tls: scheme === 'rediss:',
  };
  try {
    if (parsed.username) target.username = decodeURIComponent(parsed.username);
    if (parsed.password) target.password = decodeURIComponent(parsed.password);
  } catch {
    throw new StaticsError('config', `invalid Redis URL ${redacted}: bad percent-encoding in the credentials`);
  }
  return target;
}

