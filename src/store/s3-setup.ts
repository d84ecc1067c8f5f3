/**
 * `statics init` for S3: the bucket, static website hosting (so `current` redirects), versioning
 * (deep history) and optionally a lifecycle rule for old versions of `current`. Each setting is
 * read first and only written when it differs; one failing setting never stops the others.
 */
import {
  CreateBucketCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketVersioningCommand,
  GetBucketWebsiteCommand,
  HeadBucketCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutBucketWebsiteCommand,
  type BucketLocationConstraint,
  type LifecycleRule,
} from '@aws-sdk/client-s3';
import { errorCode, errorStatus, isNotFound, isNotImplemented } from './s3-errors.js';
import { S3Store, type S3StoreOptions } from './s3.js';
import { TRANSITIONS_KEPT } from './types.js';

export interface BucketSetupStep {
  setting: 'bucket' | 'website' | 'versioning' | 'lifecycle' | 'layout';
  status: 'configured' | 'unchanged' | 'unsupported' | 'failed';
  detail: string;
}

export interface BucketSetupOptions {
  /** Expire noncurrent versions (old `current`s) after this many days; no rule when absent. */
  noncurrentVersionDays?: number;
  /** Create the bucket when it does not exist. */
  createBucket?: boolean;
}

export const INDEX_DOCUMENT = 'index.html';
export const ERROR_DOCUMENT = 'error.html';

export async function configureBucket(target: S3Store | S3StoreOptions, options: BucketSetupOptions = {}): Promise<BucketSetupStep[]> {
  const store = target instanceof S3Store ? target : new S3Store(target);
  try {
    const steps: BucketSetupStep[] = [];
    let bucketDenied = false;
    const bucket = await step(store, 'bucket', () =>
      ensureBucket(store, options.createBucket ?? false).catch((error: unknown) => {
        bucketDenied = errorStatus(error) === 403;
        throw error;
      }),
    );
    steps.push(bucket);
    // Without the bucket, or a route to it, nothing else can work; a role allowed to configure
    // the bucket but not to list it (HeadBucket) is worth trying the settings with.
    if (bucket.status === 'failed' && !bucketDenied) {
      const skipped = (setting: BucketSetupStep['setting']): BucketSetupStep => ({
        setting,
        status: 'failed',
        detail: 'skipped: the bucket is not available',
      });
      steps.push(skipped('website'), skipped('versioning'));
      if (options.noncurrentVersionDays !== undefined) steps.push(skipped('lifecycle'));
      return steps;
    }
    steps.push(await step(store, 'website', () => ensureWebsite(store)));
    steps.push(await step(store, 'versioning', () => ensureVersioning(store)));
    if (options.noncurrentVersionDays !== undefined) {
      const days = options.noncurrentVersionDays;
      steps.push(await step(store, 'lifecycle', () => ensureLifecycle(store, days)));
    }
    return steps;
  } finally {
    if (!(target instanceof S3Store)) await store.close();
  }
}

type Outcome = Omit<BucketSetupStep, 'setting'>;

async function step(store: S3Store, setting: BucketSetupStep['setting'], run: () => Promise<Outcome>): Promise<BucketSetupStep> {
  try {
    return { setting, ...(await run()) };
  } catch (error) {
    return { setting, status: 'failed', detail: (await store.toStoreError(error, `${setting} setup`)).message };
  }
}

async function ensureBucket(store: S3Store, create: boolean): Promise<Outcome> {
  try {
    await (await store.sdkClient()).send(new HeadBucketCommand({ Bucket: store.bucket }));
    return { status: 'unchanged', detail: `bucket "${store.bucket}" exists` };
  } catch (error) {
    if (!isNotFound(error) && errorCode(error) !== 'NoSuchBucket') throw error;
  }
  if (!create) return { status: 'failed', detail: `bucket "${store.bucket}" does not exist` };
  const region = await (await store.sdkClient()).config.region();
  await (await store.sdkClient()).send(
    new CreateBucketCommand({
      Bucket: store.bucket,
      // us-east-1 is the default location and must not be named.
      CreateBucketConfiguration: region === 'us-east-1' ? undefined : { LocationConstraint: region as BucketLocationConstraint },
    }),
  );
  return { status: 'configured', detail: `created bucket "${store.bucket}"` };
}

async function ensureWebsite(store: S3Store): Promise<Outcome> {
  let existing;
  try {
    existing = await (await store.sdkClient()).send(new GetBucketWebsiteCommand({ Bucket: store.bucket }));
  } catch (error) {
    if (isNotImplemented(error)) return websiteUnsupported();
    if (errorCode(error) !== 'NoSuchWebsiteConfiguration') throw error;
  }
  if (existing?.RedirectAllRequestsTo?.HostName) {
    return {
      status: 'failed',
      detail: `the bucket's website redirects every request to ${existing.RedirectAllRequestsTo.HostName}, so current cannot redirect to its revision; remove that setting first`,
    };
  }
  if (existing?.IndexDocument?.Suffix) {
    // Another configuration (routing rules, other documents) is left alone: redirects work with any.
    return { status: 'unchanged', detail: `static website hosting is on (index document ${existing.IndexDocument.Suffix})` };
  }
  try {
    await (await store.sdkClient()).send(
      new PutBucketWebsiteCommand({
        Bucket: store.bucket,
        // The API requires an index document; statics itself only needs objects' redirects.
        WebsiteConfiguration: { IndexDocument: { Suffix: INDEX_DOCUMENT }, ErrorDocument: { Key: ERROR_DOCUMENT } },
      }),
    );
  } catch (error) {
    if (isNotImplemented(error)) return websiteUnsupported();
    throw error;
  }
  return {
    status: 'configured',
    detail: 'static website hosting on: the website endpoint answers …/current with a redirect to the revision (public reads also need a bucket policy or a CDN)',
  };
}

function websiteUnsupported(): Outcome {
  return {
    status: 'unsupported',
    detail: 'this S3 server does not implement static website hosting: …/current will not redirect over HTTP; readers must use the S3 API',
  };
}

function versioningUnsupported(): Outcome {
  return {
    status: 'unsupported',
    detail: `this S3 server does not implement bucket versioning: history is limited to the last ${TRANSITIONS_KEPT} transitions kept in current, and a deleted document's history is lost`,
  };
}

async function ensureVersioning(store: S3Store): Promise<Outcome> {
  const read = async (): Promise<string | undefined> => {
    try {
      return (await (await store.sdkClient()).send(new GetBucketVersioningCommand({ Bucket: store.bucket }))).Status;
    } catch (error) {
      if (isNotImplemented(error)) return 'unsupported';
      throw error;
    }
  };
  const before = await read();
  if (before === 'unsupported') return versioningUnsupported();
  if (before === 'Enabled') return { status: 'unchanged', detail: 'versioning is enabled: history goes back to every move of current' };
  try {
    await (await store.sdkClient()).send(new PutBucketVersioningCommand({ Bucket: store.bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  } catch (error) {
    // s3rver routes `PUT ?versioning` to CreateBucket and answers BucketAlreadyExists.
    if (isNotImplemented(error) || ['BucketAlreadyExists', 'BucketAlreadyOwnedByYou'].includes(errorCode(error))) {
      return versioningUnsupported();
    }
    throw error;
  }
  // A server may accept the request and still not keep versions: believe only what it reports.
  if ((await read()) !== 'Enabled') return versioningUnsupported();
  return { status: 'configured', detail: 'versioning enabled: history goes back to every move of current' };
}

function lifecycleRuleId(prefix: string): string {
  return `statics-noncurrent-versions${prefix ? `:${prefix}` : ''}`.slice(0, 255);
}

async function ensureLifecycle(store: S3Store, days: number): Promise<Outcome> {
  if (!Number.isInteger(days) || days < 1) {
    return { status: 'failed', detail: `noncurrent version days must be a whole number of days, at least 1 (got ${days})` };
  }
  const id = lifecycleRuleId(store.prefix);
  const filterPrefix = store.prefix ? `${store.prefix}/` : '';
  let rules: LifecycleRule[] = [];
  try {
    rules = (await (await store.sdkClient()).send(new GetBucketLifecycleConfigurationCommand({ Bucket: store.bucket }))).Rules ?? [];
  } catch (error) {
    if (isNotImplemented(error)) return lifecycleUnsupported();
    if (errorCode(error) !== 'NoSuchLifecycleConfiguration') throw error;
  }
  const ours = rules.find((rule) => rule.ID === id);
  if (
    ours &&
    ours.Status === 'Enabled' &&
    (ours.Filter?.Prefix ?? '') === filterPrefix &&
    ours.NoncurrentVersionExpiration?.NoncurrentDays === days &&
    ours.Expiration?.ExpiredObjectDeleteMarker === true
  ) {
    return { status: 'unchanged', detail: `noncurrent versions under ${store.description} expire after ${days} day(s)` };
  }
  const rule: LifecycleRule = {
    ID: id,
    Status: 'Enabled',
    Filter: { Prefix: filterPrefix },
    NoncurrentVersionExpiration: { NoncurrentDays: days },
    // Once its old versions are gone, a deleted document's marker is clutter.
    Expiration: { ExpiredObjectDeleteMarker: true },
  };
  try {
    await (await store.sdkClient()).send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: store.bucket,
        // The call replaces the whole configuration: other rules are kept as they were.
        LifecycleConfiguration: { Rules: [...rules.filter((other) => other.ID !== id), rule] },
      }),
    );
  } catch (error) {
    if (isNotImplemented(error)) return lifecycleUnsupported();
    throw error;
  }
  return { status: 'configured', detail: `noncurrent versions under ${store.description} now expire after ${days} day(s)` };
}

function lifecycleUnsupported(): Outcome {
  return {
    status: 'unsupported',
    detail: 'this S3 server does not implement lifecycle rules: old versions of current are not expired automatically',
  };
}
