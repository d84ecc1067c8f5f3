/**
 * The hot path of the S3 store (GET, HEAD, ListObjects, PUT and DELETE of objects), signed with
 * SigV4 and sent over a keep-alive agent without the SDK's middleware stack: measured here, the
 * SDK spends ~3 ms of CPU on each request and this path ~0.7 ms, which decides how fast a plan
 * lists and an apply writes. Only the expected answers are handled: 2xx, 404 NoSuchKey for reads,
 * and for conditional writes the refusals the store acts on (412, 409 ConditionalRequestConflict,
 * 501), returned as errors shaped like the SDK's. Anything else (another error status, a
 * redirect, a network failure, an endpoint or signing scheme this does not know) returns
 * undefined and the caller repeats the request through the SDK, which retries, corrects clock
 * skew and explains the error: exactly what the SDK's own retry of that request would do.
 */
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { S3Client } from '@aws-sdk/client-s3';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const TIMEOUT_MS = 60_000;

export interface ReadResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface ListedObject {
  key: string;
  etag: string | undefined;
}

export interface ListPage {
  objects: ListedObject[];
  truncated: boolean;
  nextMarker: string | undefined;
}

export interface Target {
  /** Origin and path up to (path-style: including) the bucket, without a trailing slash. */
  base: URL;
  signingRegion: string;
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Where requests go and how they are signed: known up front, or learnt from the SDK's configuration. */
export interface LeanConfig {
  /** Null where this path does not know how to address the bucket (the SDK is used instead). */
  target(): Promise<Target | null>;
  credentials(): Promise<Credentials>;
  /** Milliseconds to add to the local clock (the SDK's correction after a clock-skew error). */
  clockOffset(): number;
}

export class S3Http {
  private target: Promise<Target | null> | undefined;
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly signingKeys = new Map<string, Buffer>();
  /** False once the lean path proved unusable here (e.g. an endpoint it cannot resolve). */
  private usable = true;

  constructor(
    private readonly config: LeanConfig,
    maxSockets: number,
  ) {
    this.agents = { http: new http.Agent({ keepAlive: true, maxSockets }), https: new https.Agent({ keepAlive: true, maxSockets }) };
  }

  /** GET or HEAD of one object: the response, null when there is no such key, undefined to use the SDK. */
  async object(method: 'GET' | 'HEAD', key: string): Promise<ReadResponse | null | undefined> {
    const response = await this.send(method, `/${key.split('/').map(encodeSegment).join('/')}`, '');
    if (!response) return undefined;
    if (response.status === 200) return response;
    if (response.status === 404 && (method === 'HEAD' || errorCodeOf(response.body) === 'NoSuchKey')) return null;
    return undefined;
  }

  /**
   * PUT of one object: true when stored; throws an SDK-shaped error for 412, 409
   * ConditionalRequestConflict and 501; undefined to repeat it through the SDK.
   */
  async put(key: string, body: Buffer, headers: Record<string, string>): Promise<true | undefined> {
    const response = await this.send('PUT', `/${key.split('/').map(encodeSegment).join('/')}`, '', body, headers);
    return this.written(response);
  }

  async delete(key: string, headers: Record<string, string>): Promise<true | undefined> {
    const response = await this.send('DELETE', `/${key.split('/').map(encodeSegment).join('/')}`, '', undefined, headers);
    return this.written(response);
  }

  private written(response: ReadResponse | undefined): true | undefined {
    if (!response) return undefined;
    if (response.status >= 200 && response.status < 300) return true;
    const code = errorCodeOf(response.body);
    if (response.status === 412 || response.status === 501 || (response.status === 409 && code === 'ConditionalRequestConflict')) {
      const name = code ?? (response.status === 412 ? 'PreconditionFailed' : response.status === 501 ? 'NotImplemented' : 'ConditionalRequestConflict');
      throw Object.assign(new Error(`${name} (${response.status})`), { name, Code: name, $metadata: { httpStatusCode: response.status }, $response: { headers: response.headers } });
    }
    return undefined;
  }

  /** One page of ListObjects (v1) under `prefix` after `marker`; undefined to use the SDK. */
  async list(prefix: string, marker: string | undefined, onSent?: () => void, maxKeys?: number): Promise<ListPage | undefined> {
    // Sorted by name, as SigV4's canonical query string wants them.
    const query = [`marker=${encodeQuery(marker ?? '')}`, ...(maxKeys ? [`max-keys=${maxKeys}`] : []), `prefix=${encodeQuery(prefix)}`].join('&');
    const response = await this.send('GET', '', query, undefined, {}, onSent);
    if (!response || response.status !== 200) return undefined;
    return parseListing(response.body.toString('utf8'));
  }

  destroy(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private async send(
    method: string,
    path: string,
    query: string,
    body?: Buffer,
    extra: Record<string, string> = {},
    onSent?: () => void,
  ): Promise<ReadResponse | undefined> {
    if (!this.usable) return undefined;
    let target: Target | null;
    let credentials: Credentials;
    try {
      target = await this.resolveTarget();
      credentials = await this.config.credentials();
    } catch {
      return undefined;
    }
    if (!target) return undefined;
    const url = new URL(target.base.href);
    url.pathname = `${url.pathname.replace(/\/$/, '')}${path}` || '/';
    const offset = this.config.clockOffset();
    const amzDate = new Date(Date.now() + offset).toISOString().replace(/[:-]|\.\d{3}/g, '');
    const payloadHash = body ? createHash('sha256').update(body).digest('hex') : EMPTY_SHA256;
    const headers: Record<string, string> = { host: url.host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate };
    for (const [name, value] of Object.entries(extra)) headers[name.toLowerCase()] = value;
    if (body) headers['content-length'] = String(body.length);
    if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
    headers['authorization'] = this.authorization(method, url.pathname, query, headers, credentials, target.signingRegion, amzDate, payloadHash);
    headers['user-agent'] = 'statics';
    const isHttps = url.protocol === 'https:';
    return new Promise((resolve) => {
      const request = (isHttps ? https : http).request(
        {
          protocol: url.protocol,
          hostname: url.hostname.replace(/^\[|\]$/g, ''),
          port: url.port || undefined,
          method,
          path: url.pathname + (query ? `?${query}` : ''),
          headers,
          agent: isHttps ? this.agents.https : this.agents.http,
          timeout: TIMEOUT_MS,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
          response.on('error', () => resolve(undefined));
        },
      );
      request.on('timeout', () => request.destroy(new Error('timed out')));
      request.on('error', () => resolve(undefined));
      // On the wire: handed to a connected socket (a new socket only writes once connected).
      if (onSent) {
        request.once('socket', (socket) => {
          const flushed = () => (request.writableFinished ? onSent() : request.once('finish', onSent));
          if (socket.connecting) socket.once('connect', flushed);
          else flushed();
        });
      }
      request.end(body);
    });
  }

  /** The bucket's base URL and signing region, as the SDK's own endpoint rules give them. */
  private resolveTarget(): Promise<Target | null> {
    this.target ??= this.config.target().catch(() => null);
    return this.target.then((target) => {
      if (!target) this.usable = false;
      return target;
    });
  }

  private authorization(
    method: string,
    path: string,
    query: string,
    headers: Record<string, string>,
    credentials: { accessKeyId: string; secretAccessKey: string },
    region: string,
    amzDate: string,
    payloadHash: string,
  ): string {
    const date = amzDate.slice(0, 8);
    const names = Object.keys(headers).sort();
    const canonical = [method, path, canonicalQuery(query), names.map((name) => `${name}:${headers[name]!.trim().replace(/\s+/g, ' ')}\n`).join(''), names.join(';'), payloadHash].join('\n');
    const scope = `${date}/${region}/s3/aws4_request`;
    const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
    const signature = createHmac('sha256', this.signingKey(credentials.secretAccessKey, date, region)).update(toSign).digest('hex');
    return `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  }

  private signingKey(secret: string, date: string, region: string): Buffer {
    const id = `${createHash('sha256').update(secret).digest('hex')}/${date}/${region}`;
    let key = this.signingKeys.get(id);
    if (!key) {
      const hmac = (k: string | Buffer, data: string) => createHmac('sha256', k).update(data).digest();
      key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), 's3'), 'aws4_request');
      if (this.signingKeys.size > 16) this.signingKeys.clear();
      this.signingKeys.set(id, key);
    }
    return key;
  }
}

/** RFC 3986 unreserved characters stay; everything else is %XX (what SigV4 and S3 expect). */
function encodeSegment(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const encodeQuery = encodeSegment;

function canonicalQuery(query: string): string {
  if (!query) return '';
  return query
    .split('&')
    .map((pair) => pair.split('=', 2) as [string, string?])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value ?? ''}`)
    .join('&');
}

function errorCodeOf(body: Buffer): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body.toString('utf8'))?.[1];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (match, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(parseInt(entity.slice(1), 10));
    return ENTITIES[entity] ?? match;
  });
}

/** A ListBucketResult (v1): keys and ETags in order, whether it goes on, and where. */
export function parseListing(xml: string): ListPage | undefined {
  if (!/<ListBucketResult[\s>]/.test(xml)) return undefined;
  const objects: ListedObject[] = [];
  for (const match of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const body = match[1]!;
    const key = /<Key>([\s\S]*?)<\/Key>/.exec(body)?.[1];
    if (key === undefined) return undefined;
    const etag = /<ETag>([\s\S]*?)<\/ETag>/.exec(body)?.[1];
    objects.push({ key: decodeXml(key), etag: etag === undefined ? undefined : decodeXml(etag) });
  }
  const truncated = /<IsTruncated>\s*true\s*<\/IsTruncated>/.test(xml);
  const next = /<NextMarker>([\s\S]*?)<\/NextMarker>/.exec(xml)?.[1];
  return { objects, truncated, nextMarker: next === undefined || next === '' ? undefined : decodeXml(next) };
}

/** User metadata (`x-amz-meta-*`) as the SDK gives it: names without the prefix, lower case. */
export function metadataOf(headers: http.IncomingHttpHeaders): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith('x-amz-meta-') && value !== undefined) metadata[name.slice(11)] = Array.isArray(value) ? value.join(',') : value;
  }
  return metadata;
}

/** The lean path's configuration as the SDK client resolves it (credential chain, endpoint rules); `skew` as below. */
export function sdkLeanConfig(client: () => Promise<S3Client>, bucket: string, skew: () => number): LeanConfig {
  return {
    async target() {
      const config = (await client()).config as unknown as Record<string, unknown> & S3Client['config'];
      const custom = config.endpoint ? await (config.endpoint as () => Promise<{ protocol: string; hostname: string; port?: number; path: string }>)() : undefined;
      const flag = async (name: string) => {
        const value = config[name];
        return typeof value === 'function' ? Boolean(await (value as () => Promise<unknown>)()) : Boolean(value);
      };
      const endpoint = config.endpointProvider({
        Bucket: bucket,
        Region: await config.region(),
        UseFIPS: await flag('useFipsEndpoint'),
        UseDualStack: await flag('useDualstackEndpoint'),
        ForcePathStyle: await flag('forcePathStyle'),
        Accelerate: await flag('useAccelerateEndpoint'),
        ...(custom ? { Endpoint: `${custom.protocol}//${custom.hostname}${custom.port ? `:${custom.port}` : ''}${custom.path}` } : {}),
      });
      const schemes = (endpoint.properties?.['authSchemes'] ?? []) as Array<{ name?: string; signingRegion?: string; signingName?: string }>;
      const scheme = schemes[0];
      // Only plain SigV4 for s3 (not sigv4a, not S3 Express sessions).
      if (!scheme || scheme.name !== 'sigv4' || (scheme.signingName && scheme.signingName !== 's3')) return null;
      return { base: new URL(endpoint.url.href), signingRegion: scheme.signingRegion ?? (await config.region()) };
    },
    async credentials() {
      return (await client()).config.credentials();
    },
    clockOffset: skew,
  };
}

/**
 * The lean path's configuration without the SDK, where nothing needs its rules: a custom
 * (path-style) endpoint, a region given or in AWS_REGION, and static credentials given or in the
 * environment (which the SDK's chain would take first too). `skew` is the SDK client's correction
 * once one exists. Undefined otherwise.
 */
export function staticLeanConfig(
  options: { endpoint: URL | undefined; bucket: string; region: string | undefined; credentials: Credentials | undefined },
  env: NodeJS.ProcessEnv,
  skew: () => number,
): LeanConfig | undefined {
  const region = options.region ?? (env.AWS_REGION || undefined);
  const fromEnv = env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
    ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) }
    : undefined;
  const credentials = options.credentials ?? fromEnv;
  const endpoint = options.endpoint;
  if (!endpoint || !region || !credentials || endpoint.username || endpoint.search || (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:')) return undefined;
  const base = new URL(endpoint.href);
  base.pathname = `${base.pathname.replace(/\/$/, '')}/${options.bucket}`;
  return {
    target: async () => ({ base, signingRegion: region }),
    credentials: async () => credentials,
    clockOffset: skew,
  };
}
