/**
 * A real S3 API for integration tests: s3rver in-process on a free port, silent, in a fresh temp
 * directory removed at stop. Buckets get a website configuration so `current` redirects work.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http, { type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutBucketWebsiteCommand, S3Client } from '@aws-sdk/client-s3';
// s3rver ships no types; only the few members used here are declared.
import S3rverModule from 's3rver';

interface S3rverInstance {
  run(): Promise<{ port: number; address: string }>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;
const S3rver = S3rverModule as unknown as S3rverConstructor;

/** s3rver's default service endpoint: website requests are recognised by this Host suffix. */
const SERVICE_ENDPOINT = 'amazonaws.com';
const REGION = 'us-east-1';

export interface WebsiteResponse {
  status: number;
  location: string | undefined;
  body: Buffer;
  contentType: string | undefined;
  cacheControl: string | undefined;
}

export interface RecordedRequest {
  method: string;
  url: string;
  /** Lower-case names. */
  headers: Record<string, string | string[] | undefined>;
}

export interface TestS3 {
  /** The API endpoint, path-style: http://127.0.0.1:PORT */
  endpoint: string;
  /**
   * Where website requests go. s3rver tells website from API requests by the Host header
   * (`<bucket>.s3-website-us-east-1.amazonaws.com`), as real S3 does; `websiteHost` gives it.
   */
  websiteEndpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  region: string;
  /** An SDK client of this server, for writing or listing behind the store's back. */
  client: S3Client;
  createBucket(name: string): Promise<void>;
  /** Environment for subprocesses: AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION. */
  env(): Record<string, string>;
  websiteHost(bucket: string): string;
  /** A plain GET of the website endpoint, as a browser or CDN sends it; redirects are not followed. */
  websiteGet(bucket: string, urlPath: string): Promise<WebsiteResponse>;
  /** Records every HTTP request the server receives until `stop()` of the returned recorder. */
  record(): { stop(): RecordedRequest[] };
  stop(): Promise<void>;
}

export async function startS3(): Promise<TestS3> {
  const directory = await mkdtemp(path.join(tmpdir(), 'statics-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, serviceEndpoint: SERVICE_ENDPOINT });
  let address: { port: number };
  try {
    address = await server.run();
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const endpoint = `http://127.0.0.1:${address.port}`;
  // s3rver's fixed dummy account; it verifies signatures made with it.
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

  const recorders = new Set<RecordedRequest[]>();
  server.httpServer?.on('request', (req: IncomingMessage) => {
    for (const log of recorders) log.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } });
  });

  const client = new S3Client({
    endpoint,
    region: REGION,
    credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });

  const websiteHost = (bucket: string): string => `${bucket}.s3-website-${REGION}.${SERVICE_ENDPOINT}`;

  return {
    endpoint,
    websiteEndpoint: endpoint,
    credentials,
    region: REGION,
    client,
    websiteHost,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
      await client.send(
        new PutBucketWebsiteCommand({
          Bucket: name,
          WebsiteConfiguration: { IndexDocument: { Suffix: 'index.html' }, ErrorDocument: { Key: 'error.html' } },
        }),
      );
    },
    env() {
      return {
        AWS_ENDPOINT_URL_S3: endpoint,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_REGION: REGION,
      };
    },
    websiteGet(bucket, urlPath) {
      return new Promise((resolve, reject) => {
        const req = http.get(
          { host: '127.0.0.1', port: address.port, path: urlPath, headers: { host: websiteHost(bucket) }, agent: false },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('error', reject);
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                location: header(res, 'location'),
                body: Buffer.concat(chunks),
                contentType: header(res, 'content-type'),
                cacheControl: header(res, 'cache-control'),
              }),
            );
          },
        );
        req.on('error', reject);
      });
    },
    record() {
      const log: RecordedRequest[] = [];
      recorders.add(log);
      return {
        stop() {
          recorders.delete(log);
          return log;
        },
      };
    },
    async stop() {
      client.destroy();
      server.httpServer?.closeAllConnections();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function header(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}
