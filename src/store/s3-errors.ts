/**
 * S3 failures as one clear line each. The SDK's errors range from XML error codes to bare socket
 * errors; users need to know which of a handful of things is wrong, never to see a signature.
 */
import { StaticsError } from '../errors.js';

export interface S3ErrorContext {
  bucket: string;
  /** `s3://bucket/prefix`, as the user wrote it. */
  location: string;
  /** The endpoint as printed (no user info). */
  endpoint: string;
  /** The region the client used, when known. */
  region?: string;
  /** Strings never to appear in a message (credentials). */
  secrets: readonly string[];
}

interface SdkErrorShape {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  Region?: string;
  Endpoint?: string;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

function shape(error: unknown): SdkErrorShape {
  return typeof error === 'object' && error !== null ? (error as SdkErrorShape) : { message: String(error) };
}

export function errorStatus(error: unknown): number | undefined {
  return shape(error).$metadata?.httpStatusCode;
}

export function errorCode(error: unknown): string {
  const e = shape(error);
  return e.Code ?? e.name ?? '';
}

export function isNotFound(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'NoSuchKey' || code === 'NotFound' || (errorStatus(error) === 404 && code !== 'NoSuchBucket');
}

export function isPreconditionFailed(error: unknown): boolean {
  return errorStatus(error) === 412 || errorCode(error) === 'PreconditionFailed';
}

/** 409 ConditionalRequestConflict: another conditional write to the key is in flight. */
export function isConditionalConflict(error: unknown): boolean {
  return errorCode(error) === 'ConditionalRequestConflict';
}

/** The server does not implement the request (or a header of it). */
export function isNotImplemented(error: unknown): boolean {
  const status = errorStatus(error);
  const code = errorCode(error);
  return status === 501 || status === 405 || code === 'NotImplemented' || code === 'MethodNotAllowed';
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS lookup failed)',
  ETIMEDOUT: 'connection timed out',
  TimeoutError: 'connection timed out',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate not trusted',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate does not match the host',
};

function networkReason(error: unknown): string | undefined {
  const e = shape(error);
  if (e.$metadata?.httpStatusCode) return undefined;
  const nested = Array.isArray(e.errors) ? e.errors.map((inner) => shape(inner).code) : [];
  for (const code of [e.code, e.name, ...nested]) {
    if (code && NETWORK_REASONS[code]) return NETWORK_REASONS[code];
  }
  return undefined;
}

/** The bucket's real region, where S3 said it (header, error body or redirect endpoint). */
function regionHint(error: unknown): string | undefined {
  const e = shape(error);
  const header = e.$response?.headers?.['x-amz-bucket-region'];
  if (header) return header;
  if (e.Region) return e.Region;
  const fromEndpoint = e.Endpoint ? /s3[.-]([a-z0-9-]+)\.amazonaws\.com/.exec(e.Endpoint)?.[1] : undefined;
  return fromEndpoint;
}

function isWrongRegion(error: unknown): boolean {
  const code = errorCode(error);
  const status = errorStatus(error);
  return (
    code === 'PermanentRedirect' ||
    code === 'AuthorizationHeaderMalformed' ||
    code === 'IllegalLocationConstraintException' ||
    status === 301 ||
    (status === 400 && regionHint(error) !== undefined)
  );
}

/** One line, without credentials, signatures or anything after the first line. */
export function sanitize(text: string, secrets: readonly string[]): string {
  let line = text.split(/\r?\n/)[0] ?? '';
  for (const secret of secrets) {
    if (secret.length >= 4) line = line.split(secret).join('***');
  }
  return line
    .replace(/((?:X-Amz-)?(?:Signature|Credential|Security-Token)=)[^&\s,]+/gi, '$1***')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A StaticsError ('store') explaining `error`, which happened while `doing` something. */
export function describeS3Error(error: unknown, doing: string, context: S3ErrorContext): StaticsError {
  if (error instanceof StaticsError) return error;
  const message = explain(error, doing, context);
  return new StaticsError('store', sanitize(message, context.secrets), undefined, { cause: error });
}

function explain(error: unknown, doing: string, context: S3ErrorContext): string {
  const e = shape(error);
  const code = errorCode(error);
  const network = networkReason(error);
  if (network) return `cannot reach the S3 endpoint ${context.endpoint}: ${network}`;
  if (code === 'CredentialsProviderError' || /could not load credentials/i.test(e.message ?? '')) {
    return `no AWS credentials found for ${context.location} (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure a profile)`;
  }
  if (code === 'NoSuchBucket') return `bucket "${context.bucket}" does not exist`;
  if (isWrongRegion(error)) {
    const actual = regionHint(error);
    const used = context.region ? `, not ${context.region}` : '';
    return actual
      ? `bucket "${context.bucket}" is in region ${actual}${used} (set AWS_REGION=${actual})`
      : `bucket "${context.bucket}" is in another region${used} (set AWS_REGION to its region)`;
  }
  const denied = `access denied to ${context.location}`;
  switch (code) {
    case 'InvalidAccessKeyId':
      return `${denied}: the access key ID is not known to the server (check credentials)`;
    case 'SignatureDoesNotMatch':
      return `${denied}: the request signature was rejected (check the secret access key)`;
    case 'ExpiredToken':
    case 'TokenRefreshRequired':
      return `${denied}: the session token has expired (refresh credentials)`;
    case 'InvalidToken':
      return `${denied}: the session token is invalid (check credentials)`;
  }
  if (code === 'AccessDenied' || code === 'AllAccessDisabled' || errorStatus(error) === 403) {
    return `${denied} (check credentials and the bucket policy)`;
  }
  const status = errorStatus(error);
  const detail = e.message && e.message !== 'UnknownError' ? `: ${e.message}` : '';
  return `S3 ${doing} failed for ${context.location}: ${code || 'error'}${status ? ` (HTTP ${status})` : ''}${detail}`;
}
