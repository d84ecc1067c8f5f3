/**
 * The S3 revision store. Layout (P = the optional prefix; see StoreLayout for stores made before):
 *   P/~revisions/<domain>/<type>/<id>/<revision>  immutable, content-addressed (sha256 of the bytes)
 *   P/<domain>/<type>/<id>/current                body `<revision>\n`, website redirect to the
 *                                                 revision, recent transitions in its metadata
 * The body of `current` is fixed by its revision, so its ETag (MD5 of the body) is too: one
 * listing confirms thousands of unchanged documents without reading any of them.
 */
import { createHash } from 'node:crypto';
import type { DeleteObjectCommandOutput, GetObjectCommandOutput, HeadObjectCommandOutput, ListObjectVersionsCommandOutput, ListObjectsCommandOutput, PutObjectCommandOutput, PutObjectCommandInput, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { StaticsError } from '../errors.js';
import { formatKey, isRevision, isValidName, parseKey } from '../keys.js';
import { compareCodePoints } from '../desired/canonical.js';
import { metadataOf, S3Http, sdkLeanConfig, staticLeanConfig } from './s3-http.js';
import type { Provenance, Transition } from '../model.js';
import { mapConcurrent } from '../util/concurrency.js';
import {
  describeS3Error,
  errorCode,
  errorStatus,
  isConditionalConflict,
  isNotFound,
  isNotImplemented,
  isPreconditionFailed,
  type S3ErrorContext,
} from './s3-errors.js';
import {
  decodeProvenance,
  decodeTransitions,
  encodeProvenance,
  encodeTransitions,
  mergeHistory,
  TRANSITIONS_META,
  type CurrentVersion,
} from './s3-metadata.js';
import {
  nextTransitions,
  type ListOptions,
  type CurrentListing,
  type CurrentRecord,
  type RevisionInfo,
  type RevisionStore,
  type StoredRevision,
} from './types.js';


export interface S3StoreOptions {
  bucket: string;
  /** '' or 'a/b' (no leading or trailing slash). */
  prefix: string;
  /** A non-AWS endpoint (e.g. from AWS_ENDPOINT_URL_S3); addressed path-style. */
  endpoint?: string;
  /** Default: the SDK's chain (AWS_REGION, profile), falling back to us-east-1. */
  region?: string;
  /** Static credentials (tests); otherwise the SDK's credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Requests in flight for per-document work (reads, history). Default 32. */
  concurrency?: number;
  /** Cache-Control of `current`. Default 'no-cache'. */
  currentCacheControl?: string;
}

export const REVISION_CACHE_CONTROL = 'public, max-age=31536000, immutable';
export const DEFAULT_CURRENT_CACHE_CONTROL = 'no-cache';
const CURRENT = 'current';
/**
 * Where revisions live. `split` (what a new store gets): `P/~revisions/<d>/<t>/<id>/<rev>`, so
 * the pointers `P/<d>/<t>/<id>/current` are all a listing of `P/` returns before it reaches
 * `~revisions/` (`~` sorts after any name): a plan costs one listed key per document, whatever
 * the history. `nested`: beside `current`, `P/<d>/<t>/<id>/<rev>` (stores made before `split`,
 * or set up so with `statics init --layout nested`): a listing returns every revision too.
 * `current` is at the same well-known place in both.
 *
 * The layout is written once, as an empty marker object `P/.layout.<layout>` (`.` sorts before
 * any name, so it is the first key of a listing); a store without one but with objects is nested.
 */
const REVISIONS_ROOT = '~revisions/';
/** Keys in a full page of ListObjects. */
const LIST_PAGE = 1000;
const LAYOUT_MARKER = '.layout.';

export type StoreLayout = 'nested' | 'split';
/** What a store without documents or marker becomes on its first write. */
export const DEFAULT_LAYOUT: StoreLayout = 'split';
const DEFAULT_REGION = 'us-east-1';
const SILENT_LOGGER = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The AWS SDK's Node-version warning, and how to keep users from seeing it.
 *
 * What the installed SDK does (@aws-sdk/core 3.981, `emitWarningIfUnsupportedVersion`, run when
 * the first S3Client, or a nested STS/SSO client, is constructed, not at import): on Node < 22 it
 * calls `process.emitWarning(message)` once per process with a plain string, so the warning's
 * `name` is 'Warning', it has no `code`, and its `message` starts with
 * 'NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)'. Node then prints it to stderr as
 * `(node:PID) Warning: NodeVersionSupportWarning: …` from its default 'warning' listener.
 * Right before emitting it the SDK checks `AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED`
 * and stays silent when it is exactly 'true'.
 *
 * The CLI's entry can use either:
 * - `env`: set it in `process.env` before the first store is opened (simplest; subprocesses
 *   inherit it), e.g. `process.env[env.name] ??= env.value`;
 * - `matches`: a predicate for `process.emitWarning`'s first argument (or the Warning object a
 *   'warning' listener receives), to drop exactly this warning from a wrapper of emitWarning.
 */
export const AWS_SDK_WARNING_FILTER = {
  env: { name: 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', value: 'true' },
  matches(warning: string | Error): boolean {
    const text = typeof warning === 'string' ? warning : warning.message;
    return text.startsWith('NodeVersionSupportWarning:') && text.includes('AWS SDK for JavaScript');
  },
} as const;

/** `s3://bucket` or `s3://bucket/some/prefix` (trailing slash allowed). */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/?#]*)(?:\/([^?#]*))?$/.exec(url.trim());
  if (!match) throw new StaticsError('config', `invalid S3 store "${url}": expected s3://bucket or s3://bucket/prefix`);
  const bucket = match[1] ?? '';
  if (!/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..')) {
    throw new StaticsError(
      'config',
      `invalid S3 bucket name "${bucket}" in ${url}: 3-63 lowercase letters, digits, dots and hyphens`,
    );
  }
  const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix) {
    for (const part of prefix.split('/')) {
      if (part === '' || part === '.' || part === '..' || /[\u0000-\u001f\u007f\\]/.test(part)) {
        throw new StaticsError('config', `invalid prefix "${prefix}" in ${url}: empty, "." or ".." parts and control characters are not allowed`);
      }
    }
  }
  return { bucket, prefix };
}

function md5Hex(data: string | Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

function md5Base64(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

/** The ETag S3 gives `current` pointing at `revision` (a single-part upload: the body's MD5). */
export function currentEtag(revision: string): string {
  return `"${md5Hex(revision + '\n')}"`;
}

const LEAN_PUT_FIELDS = new Set(['Bucket', 'Key', 'Body', 'ContentLength', 'ContentMD5', 'ContentType', 'CacheControl', 'WebsiteRedirectLocation', 'Metadata', 'IfMatch', 'IfNoneMatch']);

/** The headers of a PutObject the lean path sends as the SDK would; undefined when it has other fields. */
function leanPutHeaders(input: PutObjectCommandInput): Record<string, string> | undefined {
  for (const [field, value] of Object.entries(input)) if (value !== undefined && !LEAN_PUT_FIELDS.has(field)) return undefined;
  const headers: Record<string, string> = {};
  if (input.ContentMD5) headers['content-md5'] = input.ContentMD5;
  if (input.ContentType) headers['content-type'] = input.ContentType;
  if (input.CacheControl) headers['cache-control'] = input.CacheControl;
  if (input.WebsiteRedirectLocation) headers['x-amz-website-redirect-location'] = input.WebsiteRedirectLocation;
  if (input.IfMatch) headers['if-match'] = input.IfMatch;
  if (input.IfNoneMatch) headers['if-none-match'] = input.IfNoneMatch;
  for (const [name, value] of Object.entries(input.Metadata ?? {})) {
    // Header values must be plain ASCII; anything else is the SDK's to encode.
    if (!/^[\x20-\x7e]*$/.test(value) || !/^[a-z0-9-]+$/.test(name)) return undefined;
    headers[`x-amz-meta-${name}`] = value;
  }
  return headers;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** `domain/type/id` from its three parts, when they are valid names. */
function documentKeyOf(parts: string[]): string | undefined {
  if (parts.length !== 3) return undefined;
  const [domain, type, id] = parts as [string, string, string];
  return isValidName(domain) && isValidName(type) && isValidName(id) ? `${domain}/${type}/${id}` : undefined;
}

/**
 * Whether a listing whose last key is `last` has passed `key` whatever the server's order: S3
 * sorts whole keys by bytes, while servers that walk folders (s3rver) sort name by name, so
 * `a/b/…` comes before `a/b.x/…` there and after it on S3. Passed in both orders is passed.
 */
function listedThrough(key: string, last: string): boolean {
  if (compareCodePoints(key, last) > 0) return false;
  const names = key.split('/');
  const lastNames = last.split('/');
  for (let index = 0; index < Math.min(names.length, lastNames.length); index++) {
    const order = compareCodePoints(names[index]!, lastNames[index]!);
    if (order !== 0) return order < 0;
  }
  return names.length <= lastNames.length;
}

/** One `current` as a listing shows it: its ETag proves a revision (the body is the revision and a newline). */
class ListedCurrent implements CurrentListing {
  constructor(
    readonly key: string,
    private readonly etag: string,
  ) {}

  confirms(revision: string): boolean {
    return isRevision(revision) && this.etag === md5Hex(revision + '\n');
  }
}

/** The layout a marker's key (relative to the prefix) names, if it is one. */
function layoutOfMarker(relativeKey: string): StoreLayout | undefined {
  if (!relativeKey.startsWith(LAYOUT_MARKER)) return undefined;
  const named = relativeKey.slice(LAYOUT_MARKER.length);
  return named === 'nested' || named === 'split' ? named : undefined;
}

function describeLayout(layout: StoreLayout): string {
  return layout === 'split' ? `under ${REVISIONS_ROOT}` : 'beside current';
}

function normalizeEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/^W\//, '').replace(/"/g, '').toLowerCase();
}

function isAwsHost(endpoint: URL): boolean {
  return /(^|\.)amazonaws\.com(\.cn)?$/i.test(endpoint.hostname);
}

export class S3Store implements RevisionStore {
  readonly description: string;
  readonly bucket: string;
  readonly prefix: string;
  /** How the SDK client is made, once something needs it (loading the SDK costs ~0.3 s of CPU). */
  private readonly clientConfig: S3ClientConfig;
  private client: Promise<S3Client> | undefined;
  private loadedClient: S3Client | undefined;
  private readonly concurrency: number;
  private readonly currentCacheControl: string;
  private readonly errorContext: S3ErrorContext;
  /** False once the server answered 501 to If-Match/If-None-Match: it is not asked again. */
  private conditionalWrites = true;
  /** Whether a HEAD of `current` tells its revision here (redirect header and MD5 ETag kept). */
  private currentByHead = true;
  /** True once the bucket answered as existing: a HEAD's bare 404 then means no such key. */
  private bucketSeen = false;
  /** False once the server refused to list object versions: history is then `current`'s metadata. */
  private versionsListable = true;
  /**
   * Revisions this store wrote or saw stored (object keys), so moving `current` to one of them
   * needs no second look: revisions are immutable and statics never deletes one. Bounded.
   */
  private readonly knownStored = new Set<string>();
  /** The store's layout once settled (by a listing, a look, or the first write to an empty store). */
  private layout: Promise<StoreLayout> | undefined;
  /** A look at the store's first key, while one is under way. */
  private looking: Promise<StoreLayout | 'empty'> | undefined;
  /** Object reads, writes and listings without the SDK's per-request cost; the SDK does the rest. */
  private readonly reads: S3Http;

  constructor(options: S3StoreOptions) {
    const { bucket, prefix } = parseS3Url(`s3://${options.bucket}/${options.prefix}`);
    this.bucket = bucket;
    this.prefix = prefix;
    this.description = prefix ? `s3://${bucket}/${prefix}` : `s3://${bucket}`;
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 32));
    this.currentCacheControl = options.currentCacheControl ?? DEFAULT_CURRENT_CACHE_CONTROL;

    let endpoint: URL | undefined;
    if (options.endpoint !== undefined) {
      try {
        endpoint = new URL(options.endpoint);
      } catch {
        throw new StaticsError('config', `invalid S3 endpoint URL "${options.endpoint}"`);
      }
    }
    // Other S3 implementations (s3rver among them) reject the SDK's default aws-chunked checksum
    // trailers; Content-MD5 (sent on every PUT below) still guards the bytes.
    const checksums = endpoint && !isAwsHost(endpoint) ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
    const sockets = Math.max(50, this.concurrency * 2);
    this.clientConfig = {
      endpoint: endpoint?.href,
      forcePathStyle: endpoint !== undefined,
      ...(options.region ? { region: options.region } : {}),
      credentials: options.credentials,
      maxAttempts: 5,
      retryMode: 'standard',
      requestChecksumCalculation: checksums,
      responseChecksumValidation: checksums,
      requestHandler: {
        // The handler would otherwise print socket-capacity warnings straight to the console.
        logger: SILENT_LOGGER,
        connectionTimeout: 10_000,
        httpAgent: { keepAlive: true, maxSockets: sockets },
        httpsAgent: { keepAlive: true, maxSockets: sockets },
      },
    };

    // Where no SDK rule is needed to address the bucket or find credentials, the SDK is not loaded
    // until something unexpected happens.
    const skew = () => Number((this.loadedClient?.config as { systemClockOffset?: number } | undefined)?.systemClockOffset ?? 0) || 0;
    const known = staticLeanConfig({ endpoint, bucket, region: options.region, credentials: options.credentials }, process.env, skew);
    this.reads = new S3Http(known ?? sdkLeanConfig(() => this.sdkClient(), bucket, skew), sockets);

    let printable = 'https://s3.amazonaws.com';
    if (endpoint) {
      const shown = new URL(endpoint.href);
      shown.username = '';
      shown.password = '';
      printable = shown.href.replace(/\/$/, '');
    }
    const secrets = options.credentials ? [options.credentials.secretAccessKey] : [];
    if (endpoint?.password) secrets.push(decodeURIComponent(endpoint.password));
    this.errorContext = { bucket, location: this.description, endpoint: printable, region: options.region, secrets };
  }

  /** The SDK client of this store, made (and the SDK loaded) on first use and reused after. */
  sdkClient(): Promise<S3Client> {
    this.client ??= loadSdk().then(async (sdk) => {
      const region = this.clientConfig.region ?? chainRegionOr(sdk, DEFAULT_REGION);
      this.loadedClient = new sdk.S3Client({ ...this.clientConfig, region });
      return this.loadedClient;
    });
    return this.client;
  }

  /** Sends one SDK command, built from the SDK module once it is loaded. */
  private async send<T>(build: (sdk: Sdk) => object): Promise<T> {
    const [sdk, client] = await Promise.all([loadSdk(), this.sdkClient()]);
    // Each command class has its own input and output types; the caller names the output.
    return (await client.send(build(sdk) as never)) as T;
  }

  /** Runs one SDK call; failures become one-line StaticsErrors. */
  private async call<T>(doing: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw await this.toStoreError(error, doing);
    }
  }

  /** Explains a failure, naming the region the client used when that is the problem. */
  async toStoreError(error: unknown, doing: string): Promise<StaticsError> {
    let region = this.errorContext.region;
    if (!region) region = await this.sdkClient().then((client) => client.config.region()).catch(() => undefined);
    return describeS3Error(error, doing, { ...this.errorContext, region });
  }

  private base(): string {
    return this.prefix ? `${this.prefix}/` : '';
  }

  /** `P/<domain>/<type>/<id>/<leaf>`, for a key that must be valid. */
  objectKey(key: string, leaf: string): string {
    return `${this.base()}${formatKey(parseKey(key))}/${leaf}`;
  }

  /** The key of a document's `current`: the same in every layout. */
  currentKey(key: string): string {
    return this.objectKey(key, CURRENT);
  }

  /**
   * Where a revision lives in this store's layout. `forWrite` settles the layout of an empty
   * store (by writing its marker); a read of an empty store writes nothing.
   */
  async revisionKey(key: string, revision: string, forWrite = false): Promise<string> {
    return (await this.storeLayout(forWrite)) === 'split' ? `${this.base()}${REVISIONS_ROOT}${formatKey(parseKey(key))}/${revision}` : this.objectKey(key, revision);
  }

  /**
   * The layout, from the first key of the store the first time it is needed (a listing tells it
   * for free). A store without documents or marker gets the default layout's marker from its
   * first write; until then a reader takes the default without remembering it.
   */
  async storeLayout(forWrite = false): Promise<StoreLayout> {
    if (this.layout) return this.layout;
    // One look at a time; an empty store is looked at again next time.
    this.looking ??= this.detectLayout().finally(() => {
      this.looking = undefined;
    });
    const found = await this.looking;
    if (found !== 'empty') {
      this.layout ??= Promise.resolve(found);
      return found;
    }
    if (!forWrite) return DEFAULT_LAYOUT;
    if (!this.layout) {
      const writing = this.writeLayoutMarker(DEFAULT_LAYOUT);
      this.layout = writing;
      // A failure is not remembered: the next write tries again.
      writing.catch(() => {
        if (this.layout === writing) this.layout = undefined;
      });
    }
    return this.layout;
  }

  /** One listed key says it: a marker, another object (a store made before markers: nested), or none. */
  private async detectLayout(): Promise<StoreLayout | 'empty'> {
    let first: string | undefined;
    await this.listObjects(this.base(), (objectKey) => {
      first = objectKey;
      return false;
    }, { maxKeys: 1, continuesAfter: () => false });
    if (first === undefined) return 'empty';
    return layoutOfMarker(first.slice(this.base().length)) ?? 'nested';
  }

  private async writeLayoutMarker(layout: StoreLayout): Promise<StoreLayout> {
    const body = Buffer.alloc(0);
    const input: PutObjectCommandInput = {
      Bucket: this.bucket,
      Key: `${this.base()}${LAYOUT_MARKER}${layout}`,
      Body: body,
      ContentLength: 0,
      ContentMD5: md5Base64(body),
      ContentType: 'application/octet-stream',
    };
    try {
      await this.putConditionally(input, { IfNoneMatch: '*' });
    } catch (error) {
      if (!isPreconditionFailed(error) && !isConditionalConflict(error)) throw await this.toStoreError(error, 'write of the store layout');
    }
    // Two first writers at once agree unless one asked for another layout (init): the first key wins.
    const settled = await this.detectLayout();
    return settled === 'empty' ? layout : settled;
  }

  /**
   * Makes sure the store uses `layout`: writes its marker on a store without documents. A store
   * keeps the layout it started with; asking for another is refused.
   */
  async useLayout(layout: StoreLayout): Promise<'unchanged' | 'configured'> {
    this.layout = undefined;
    const found = await this.detectLayout();
    if (found === layout) return 'unchanged';
    if (found !== 'empty') {
      throw new StaticsError('config', `${this.description} keeps its revisions ${describeLayout(found)}; a store keeps the layout it was set up with`);
    }
    const settled = await this.writeLayoutMarker(layout);
    this.layout = Promise.resolve(settled);
    if (settled !== layout) throw new StaticsError('config', `${this.description} was just set up to keep its revisions ${describeLayout(settled)}`);
    return 'configured';
  }

  /**
   * Every document that has a `current`, from one paginated listing of the prefix: in the split
   * layout it ends where `~revisions/` begins, in the nested one it runs through every revision.
   * The first key tells which: a marker sorts before everything a store holds.
   */
  async listCurrent(options: ListOptions = {}): Promise<Map<string, CurrentListing>> {
    const listing = new Map<string, CurrentListing>();
    const base = this.base();
    const revisionsRoot = base + REVISIONS_ROOT;
    let layout: StoreLayout | undefined;
    // A document whose every object key the listing has passed is done: its `current` seen or
    // certainly not there.
    const onPage = options.onProgress
      ? (last: string) =>
          options.onProgress!(listing, (key) => {
            const folder = `${base}${key}/`;
            return !last.startsWith(folder) && listedThrough(folder, last);
          })
      : undefined;
    // In the split layout the pointers end where revisions begin: near the end, ask for about as
    // many keys as documents are still expected (and a little more, doubling while short), not a
    // whole page of revisions that a server like s3rver or MinIO reads the metadata of.
    let slack = 16;
    const layoutOf = (first: string) => layoutOfMarker(first.slice(base.length)) ?? 'nested';
    const nextMaxKeys = (last: string, first: string | undefined): number | undefined => {
      if (layout === undefined && first !== undefined) layout = layoutOf(first);
      if (layout !== 'split' || !options.expectedAfter) return undefined;
      const parts = last.slice(base.length).split('/');
      const key = parts.length === 4 && parts[3] === CURRENT ? documentKeyOf(parts.slice(0, 3)) : undefined;
      const expected = key ? options.expectedAfter(key) : undefined;
      if (expected === undefined) return undefined;
      const size = expected + slack;
      slack *= 2;
      return size < LIST_PAGE ? size : undefined;
    };
    await this.listObjects(base, (objectKey, etag) => {
      if (layout === undefined) layout = layoutOf(objectKey);
      // Past the pointers: the rest of the prefix is revisions.
      if (objectKey.startsWith(revisionsRoot)) return false;
      const parts = objectKey.slice(base.length).split('/');
      if (parts.length !== 4 || parts[3] !== CURRENT) return true;
      const key = documentKeyOf(parts.slice(0, 3));
      if (key) listing.set(key, new ListedCurrent(key, normalizeEtag(etag)));
      return true;
    }, { onPage, onSent: options.onSent, nextMaxKeys, continuesAfter: (last) => !last.startsWith(revisionsRoot) });
    // An empty store's layout is settled by its first write, not by a look.
    if (layout) this.layout = Promise.resolve(layout);
    return listing;
  }

  /**
   * Every object under `prefix`, in one paginated pass without a delimiter. ListObjects (v1)
   * paged by marker, not v2: s3rver 3.7 makes v2 continuation tokens with DES, which Node 17+
   * (OpenSSL 3) refuses, so past 1000 keys v2 fails there with a 500. On AWS both are equal.
   */
  private async listObjects(
    prefix: string,
    visit: (key: string, etag: string | undefined) => boolean | void,
    paging: {
      onPage?: (last: string) => void;
      onSent?: () => void;
      /** Keys to ask for on the first page, and after a page ending at `last` (default: a full page). */
      maxKeys?: number;
      /** Also told the first key of the page that ended at `last` (the page is not visited yet). */
      nextMaxKeys?: (last: string, first: string | undefined) => number | undefined;
      /** Whether keys after `last` are wanted (default: yes); false ends the listing after that page. */
      continuesAfter?: (last: string) => boolean;
    } = {},
  ): Promise<void> {
    const { onPage, onSent, nextMaxKeys, continuesAfter } = paging;
    const fetchPage = (marker: string | undefined, maxKeys: number | undefined, first: boolean) =>
      this.reads.list(prefix, marker, first ? onSent : undefined, maxKeys).then(
        (page) =>
          page ??
          this.call('list', async () => {
            if (first) onSent?.();
            const answer = await this.send<ListObjectsCommandOutput>((sdk) => new sdk.ListObjectsCommand({ Bucket: this.bucket, Prefix: prefix, Marker: marker, MaxKeys: maxKeys }));
            const objects = (answer.Contents ?? []).flatMap((object) => (object.Key ? [{ key: object.Key, etag: object.ETag }] : []));
            return { objects, truncated: Boolean(answer.IsTruncated), nextMarker: answer.NextMarker };
          }),
      );
    let marker: string | undefined;
    let pending = fetchPage(undefined, paging.maxKeys, true);
    for (;;) {
      const page = await pending;
      this.bucketSeen = true;
      // Without a delimiter, the next page starts after the last key (NextMarker is only sent with one).
      const last = page.nextMarker ?? page.objects[page.objects.length - 1]?.key;
      const more = page.truncated && last !== undefined && last !== marker && (continuesAfter?.(last) ?? true);
      if (more) {
        // The next page is asked for before this one is visited: the server works on it meanwhile.
        marker = last;
        pending = fetchPage(marker, nextMaxKeys?.(last, page.objects[0]?.key), false);
        // Not awaited if a visitor stops early; its failure must not go unhandled.
        pending.catch(() => {});
      }
      for (const object of page.objects) {
        // `false` ends the listing: the visitor has all it wants.
        if (visit(object.key, object.etag) === false) return;
      }
      if (!more) return;
      onPage?.(last!);
    }
  }

  async readCurrent(keys: readonly string[]): Promise<Map<string, CurrentRecord | null>> {
    const records = await mapConcurrent(keys, this.concurrency, (key) => this.readOneCurrent(key));
    return new Map(keys.map((key, index) => [key, records[index] ?? null]));
  }

  private async readOneCurrent(key: string): Promise<CurrentRecord | null> {
    const objectKey = this.currentKey(key);
    // A HEAD says it all where the redirect names the revision and the ETag proves the body is
    // that revision (md5 of a plain PUT); anything else is read whole.
    const head = this.currentByHead ? await this.reads.object('HEAD', objectKey) : undefined;
    // A HEAD's 404 has no body to tell a missing key from a missing bucket: a GET tells, once.
    if (head === null && this.bucketSeen) return null;
    if (head) {
      this.bucketSeen = true;
      const etag = firstHeader(head.headers.etag);
      const redirect = firstHeader(head.headers['x-amz-website-redirect-location']) ?? '';
      const revision = redirect.slice(redirect.lastIndexOf('/') + 1);
      if (isRevision(revision) && redirect === `/${await this.revisionKey(key, revision)}` && etag && normalizeEtag(etag) === md5Hex(revision + '\n')) {
        return { revision, transitions: decodeTransitions(metadataOf(head.headers)[TRANSITIONS_META]), tag: etag };
      }
      // A server that keeps no redirect or makes no MD5 ETags is read with GET from now on; an
      // odd object alone (a body that is not its revision) is read whole to be reported.
      if (!redirect || !/^[0-9a-f]{32}$/.test(normalizeEtag(etag))) this.currentByHead = false;
    }
    let body: string;
    let metadata: Record<string, string> | undefined;
    let etag: string | undefined;
    const lean = await this.reads.object('GET', objectKey);
    if (lean === null) {
      this.bucketSeen = true;
      return null;
    }
    if (lean) {
      body = lean.body.toString('utf8');
      metadata = metadataOf(lean.headers);
      etag = firstHeader(lean.headers.etag);
    } else {
      try {
        const response = await this.send<GetObjectCommandOutput>((sdk) => new sdk.GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
        body = (await response.Body?.transformToString('utf-8')) ?? '';
        metadata = response.Metadata;
        etag = response.ETag;
      } catch (error) {
        if (isNotFound(error)) return null;
        throw await this.toStoreError(error, `read of ${key}`);
      }
    }
    const revision = body.replace(/\n$/, '');
    if (!isRevision(revision)) {
      throw new StaticsError('store', `corrupt current of ${key} in ${this.description}: the body is not a revision`);
    }
    const record: CurrentRecord = { revision, transitions: decodeTransitions(metadata?.[TRANSITIONS_META]) };
    if (etag) record.tag = etag;
    return record;
  }

  async putRevision(key: string, revision: string, bytes: Buffer, info: RevisionInfo, provenance: Provenance): Promise<void> {
    if (!isRevision(revision) || createHash('sha256').update(bytes).digest('hex') !== revision) {
      throw new StaticsError('internal', `revision ${revision} of ${key} is not the sha256 of its bytes`);
    }
    const input: PutObjectCommandInput = {
      Bucket: this.bucket,
      Key: await this.revisionKey(key, revision, true),
      Body: bytes,
      ContentLength: bytes.length,
      ContentMD5: md5Base64(bytes),
      ContentType: info.mediaType,
      CacheControl: REVISION_CACHE_CONTROL,
      Metadata: encodeProvenance(provenance),
    };
    // One request either way: If-None-Match makes an existing revision a 412 instead of an
    // overwrite (which would replace its provenance and, with versioning, store a duplicate).
    try {
      await this.putConditionally(input, { IfNoneMatch: '*' });
    } catch (error) {
      if (isPreconditionFailed(error)) return this.rememberStored(input.Key!);
      if (isConditionalConflict(error) && (await this.statRevision(key, revision))) return;
      throw await this.toStoreError(error, `write of ${key}@${revision.slice(0, 12)}`);
    }
    this.rememberStored(input.Key!);
  }

  private rememberStored(objectKey: string): void {
    if (this.knownStored.size >= 100_000) this.knownStored.clear();
    this.knownStored.add(objectKey);
  }

  /** PUT with conditional headers, or without them once the server said it does not implement them. */
  private async putConditionally(input: PutObjectCommandInput, conditions: Pick<PutObjectCommandInput, 'IfMatch' | 'IfNoneMatch'>): Promise<void> {
    if (this.conditionalWrites) {
      try {
        await this.put({ ...input, ...conditions });
        return;
      } catch (error) {
        if (!conditionsUnsupported(error)) throw error;
        this.conditionalWrites = false;
      }
    }
    await this.put(input);
  }

  /** One PutObject: on the lean path when it can take it, else (or when it gives up) the SDK. */
  private async put(input: PutObjectCommandInput): Promise<void> {
    const headers = leanPutHeaders(input);
    if (headers && Buffer.isBuffer(input.Body) && input.Key && (await this.reads.put(input.Key, input.Body, headers))) return;
    await this.send<PutObjectCommandOutput>((sdk) => new sdk.PutObjectCommand(input));
  }

  private async deleteObject(key: string, ifMatch: string | undefined): Promise<void> {
    if (await this.reads.delete(key, ifMatch ? { 'if-match': ifMatch } : {})) return;
    await this.send<DeleteObjectCommandOutput>((sdk) => new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: key, ...(ifMatch ? { IfMatch: ifMatch } : {}) }));
  }

  async statRevision(key: string, revision: string): Promise<RevisionInfo | null> {
    if (!isRevision(revision)) return null;
    const objectKey = await this.revisionKey(key, revision);
    const lean = await this.reads.object('HEAD', objectKey);
    if (lean === null) return null;
    if (lean) {
      this.rememberStored(objectKey);
      return { mediaType: firstHeader(lean.headers['content-type']) ?? 'application/octet-stream', size: Number(lean.headers['content-length'] ?? 0) };
    }
    try {
      const head = await this.send<HeadObjectCommandOutput>((sdk) => new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      this.rememberStored(objectKey);
      return { mediaType: head.ContentType ?? 'application/octet-stream', size: head.ContentLength ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw await this.toStoreError(error, `stat of ${key}@${revision.slice(0, 12)}`);
    }
  }

  async getRevision(key: string, revision: string): Promise<StoredRevision | null> {
    if (!isRevision(revision)) return null;
    let bytes: Buffer;
    let mediaType: string;
    let metadata: Record<string, string> | undefined;
    const objectKey = await this.revisionKey(key, revision);
    const lean = await this.reads.object('GET', objectKey);
    if (lean === null) return null;
    if (lean) {
      bytes = lean.body;
      mediaType = firstHeader(lean.headers['content-type']) ?? 'application/octet-stream';
      metadata = metadataOf(lean.headers);
    } else {
      try {
        const response = await this.send<GetObjectCommandOutput>((sdk) => new sdk.GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
        bytes = Buffer.from((await response.Body?.transformToByteArray()) ?? new Uint8Array());
        mediaType = response.ContentType ?? 'application/octet-stream';
        metadata = response.Metadata;
      } catch (error) {
        if (isNotFound(error)) return null;
        throw await this.toStoreError(error, `read of ${key}@${revision.slice(0, 12)}`);
      }
    }
    if (createHash('sha256').update(bytes).digest('hex') !== revision) {
      throw new StaticsError('store', `corrupt revision ${revision} of ${key} in ${this.description}: its bytes do not hash to its name`);
    }
    return { revision, bytes, mediaType, provenance: decodeProvenance(metadata) };
  }

  async listRevisions(key: string): Promise<string[]> {
    const folder = await this.revisionKey(key, '');
    const revisions: string[] = [];
    await this.listObjects(folder, (objectKey) => {
      const name = objectKey.slice(folder.length);
      if (isRevision(name)) revisions.push(name);
    });
    return revisions;
  }

  async setCurrent(key: string, transition: Transition, expected: CurrentRecord | null): Promise<CurrentRecord> {
    const revision = transition.revision;
    if (!revision || !isRevision(revision)) throw new StaticsError('internal', `setCurrent needs a revision for ${key}`);
    // Never point `current` at a revision that is not there (known when this store just wrote it).
    const revisionKey = await this.revisionKey(key, revision);
    if (!this.knownStored.has(revisionKey) && !(await this.statRevision(key, revision))) {
      throw new StaticsError('store', `revision ${revision} of ${key} is not stored in ${this.description}; current not moved`);
    }
    const body = Buffer.from(`${revision}\n`);
    const input: PutObjectCommandInput = {
      Bucket: this.bucket,
      Key: this.currentKey(key),
      Body: body,
      ContentLength: body.length,
      ContentMD5: md5Base64(body),
      ContentType: 'text/plain',
      CacheControl: this.currentCacheControl,
      WebsiteRedirectLocation: `/${revisionKey}`,
      Metadata: { [TRANSITIONS_META]: encodeTransitions(nextTransitions(transition, expected)) },
    };
    // What a later read will find: the transitions that fitted the metadata budget.
    const stored: CurrentRecord = { revision, transitions: decodeTransitions(input.Metadata![TRANSITIONS_META]) };
    const conditions = expected ? { IfMatch: expected.tag ?? currentEtag(expected.revision) } : { IfNoneMatch: '*' };
    try {
      await this.putConditionally(input, conditions);
    } catch (error) {
      if (isPreconditionFailed(error) || isConditionalConflict(error)) {
        throw new StaticsError('stale', `current of ${key} moved while writing (expected ${expected?.revision ?? 'none'})`, undefined, {
          cause: error,
        });
      }
      throw await this.toStoreError(error, `move of current of ${key}`);
    }
    return stored;
  }

  async deleteCurrent(key: string, _transition: Transition, expected: CurrentRecord): Promise<void> {
    const objectKey = this.currentKey(key);
    const stale = (error: unknown): StaticsError =>
      new StaticsError('stale', `current of ${key} moved while deleting (expected ${expected.revision})`, undefined, { cause: error });
    try {
      if (this.conditionalWrites) {
        try {
          await this.deleteObject(objectKey, expected.tag ?? currentEtag(expected.revision));
          return;
        } catch (error) {
          if (!conditionsUnsupported(error)) throw error;
          this.conditionalWrites = false;
        }
      }
      await this.deleteObject(objectKey, undefined);
    } catch (error) {
      // With If-Match, a `current` already gone is a 404: it moved too.
      if (isPreconditionFailed(error) || isConditionalConflict(error) || isNotFound(error)) throw stale(error);
      throw await this.toStoreError(error, `delete of current of ${key}`);
    }
  }

  async history(key: string): Promise<Transition[]> {
    const objectKey = this.currentKey(key);
    const versions = this.versionsListable ? await this.listVersions(objectKey) : undefined;
    // No versions at all (or a server that lists none): `current` itself is all there is.
    if (!versions || versions.length === 0) return (await this.headCurrent(objectKey, undefined))?.transitions ?? [];
    const loaded = await mapConcurrent(versions, this.concurrency, async (version): Promise<CurrentVersion | null> => {
      if (version.deleteMarker) return { lastModified: version.lastModified, deleteMarker: true, transitions: [] };
      const head = await this.headCurrent(objectKey, version.versionId);
      // A version expired between listing and reading adds nothing.
      return head ? { lastModified: version.lastModified, deleteMarker: false, transitions: head.transitions } : null;
    });
    return mergeHistory(loaded.filter((version): version is CurrentVersion => version !== null));
  }

  private async headCurrent(objectKey: string, versionId: string | undefined): Promise<{ transitions: Transition[] } | null> {
    try {
      const head = await this.send<HeadObjectCommandOutput>((sdk) => new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: objectKey, VersionId: versionId }));
      return { transitions: decodeTransitions(head.Metadata?.[TRANSITIONS_META]) };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw await this.toStoreError(error, `read of ${objectKey}`);
    }
  }

  /** Versions of one key, newest first; undefined where the server keeps or lists none. */
  private async listVersions(objectKey: string): Promise<Array<{ versionId?: string; lastModified: Date; deleteMarker: boolean }> | undefined> {
    const versions: Array<{ versionId?: string; lastModified: Date; deleteMarker: boolean }> = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    do {
      let page;
      try {
        page = await this.send<ListObjectVersionsCommandOutput>((sdk) => new sdk.ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: objectKey, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }),
        );
      } catch (error) {
        if (isNotImplemented(error)) {
          this.versionsListable = false;
          return undefined;
        }
        throw await this.toStoreError(error, `listing versions of ${objectKey}`);
      }
      for (const version of page.Versions ?? []) {
        if (version.Key !== objectKey) continue;
        versions.push({ versionId: version.VersionId, lastModified: version.LastModified ?? new Date(0), deleteMarker: false });
      }
      for (const marker of page.DeleteMarkers ?? []) {
        if (marker.Key !== objectKey) continue;
        versions.push({ versionId: marker.VersionId, lastModified: marker.LastModified ?? new Date(0), deleteMarker: true });
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker);
    return versions;
  }

  async close(): Promise<void> {
    this.reads.destroy();
    this.loadedClient?.destroy();
  }
}

type Sdk = typeof import('@aws-sdk/client-s3');
let sdkModule: Promise<Sdk> | undefined;

/** The AWS SDK, loaded the first time a store needs it. */
function loadSdk(): Promise<Sdk> {
  sdkModule ??= import('@aws-sdk/client-s3');
  return sdkModule;
}

/** A 501 to a conditional request: the server does not implement If-Match/If-None-Match. */
function conditionsUnsupported(error: unknown): boolean {
  return errorStatus(error) === 501 || errorCode(error) === 'NotImplemented';
}

/**
 * The SDK's own region chain (AWS_REGION, then the profile's region in the config files), or
 * `fallback` where it finds none: S3 answers any region's requests with the bucket's real region
 * in errors, and custom endpoints mostly ignore the region.
 */
function chainRegionOr(sdk: Sdk, fallback: string): () => Promise<string> {
  // A client built without a region resolves it through that chain; only its provider is used.
  const probe = new sdk.S3Client({});
  const chain = probe.config.region;
  probe.destroy();
  let resolved: Promise<string> | undefined;
  return () => (resolved ??= chain().catch(() => fallback));
}

