/**
 * The services a benchmark run talks to, started fresh on free ports: s3rver in this process
 * (every HTTP request counted at its server) and a private redis-server (commands counted from
 * INFO). Torn down by `stop()`, and killed if this process exits first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import type { IncomingMessage, Server } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { CreateBucketCommand, PutBucketWebsiteCommand, S3Client } from '@aws-sdk/client-s3';
// s3rver ships no types; only the members used here are declared.
import S3rverModule from 's3rver';

interface S3rverInstance {
  run(): Promise<{ port: number; address: string }>;
  close(): Promise<void>;
  httpServer?: Server;
}
const S3rver = S3rverModule as unknown as new (options: Record<string, unknown>) => S3rverInstance;

export const S3_REGION = 'us-east-1';
export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** Requests by kind: list, get, head, put, delete, other. */
export type RequestCounts = Record<string, number>;

export interface BenchS3 {
  endpoint: string;
  createBucket(name: string): Promise<void>;
  /** Counts of every request received since the last call (and resets them). */
  takeCounts(): RequestCounts;
  /** AWS_* variables for a statics subprocess. */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

export async function startS3(directory: string): Promise<BenchS3> {
  await rm(directory, { recursive: true, force: true });
  await mkdir(directory, { recursive: true });
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, serviceEndpoint: 'amazonaws.com' });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  let counts: RequestCounts = {};
  server.httpServer?.on('request', (request: IncomingMessage) => {
    const kind = requestKind(request.method ?? '', request.url ?? '');
    counts[kind] = (counts[kind] ?? 0) + 1;
  });
  const client = new S3Client({
    endpoint,
    region: S3_REGION,
    credentials: S3_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
      // Website hosting, as `statics init` sets it up, so `current` redirects.
      await client.send(
        new PutBucketWebsiteCommand({ Bucket: name, WebsiteConfiguration: { IndexDocument: { Suffix: 'index.html' }, ErrorDocument: { Key: 'error.html' } } }),
      );
    },
    takeCounts() {
      const taken = counts;
      counts = {};
      return taken;
    },
    env() {
      return {
        AWS_ENDPOINT_URL_S3: endpoint,
        AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
        AWS_REGION: S3_REGION,
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

/** A request's kind, as S3 bills it: a listing is a GET of the bucket (path `/bucket?…`). */
export function requestKind(method: string, url: string): string {
  const [pathname = '', query = ''] = url.split('?', 2);
  const segments = pathname.split('/').filter(Boolean);
  if (method === 'GET' && segments.length <= 1) return /(^|&)(versions|uploads)(=|&|$)/.test(query) ? 'other' : 'list';
  switch (method) {
    case 'GET':
      return 'get';
    case 'HEAD':
      return 'head';
    case 'PUT':
    case 'POST':
      return 'put';
    case 'DELETE':
      return 'delete';
    default:
      return 'other';
  }
}

export interface BenchRedis {
  url: string;
  port: number;
  /**
   * Commands processed since the last call: `total` as Redis counts client commands
   * (total_commands_processed, the bench's own INFO excluded) and `byCommand` from commandstats
   * (where commands run inside Lua scripts are counted too, under their own names).
   */
  takeCounts(): Promise<{ total: number; byCommand: Record<string, number> }>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export function findRedisServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      accessSync(path.join(dir, 'redis-server'), constants.X_OK);
      return path.join(dir, 'redis-server');
    } catch {
      // Not here.
    }
  }
  return undefined;
}

export async function startRedis(binary: string, directory: string): Promise<BenchRedis> {
  await mkdir(directory, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(binary, ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', directory, '--loglevel', 'warning'], {
      cwd: directory,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (!ready && Date.now() < deadline && child.exitCode === null) {
      ready = await command(port, ['PING']).then((reply) => reply.startsWith('+PONG'), () => false);
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (!ready) {
      child.kill('SIGKILL');
      if (attempt < 4) continue;
      throw new Error(`redis-server did not start on port ${port}`);
    }
    let last = await info(port);
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      async takeCounts() {
        const now = await info(port);
        const byCommand: Record<string, number> = {};
        for (const [name, calls] of Object.entries(now.commands)) {
          const delta = calls - (last.commands[name] ?? 0) - (name === 'info' ? 1 : 0);
          if (delta > 0) byCommand[name] = delta;
        }
        // Each INFO counts itself once it has run: the one just read is in `now` but not in `last`.
        const total = now.processed - last.processed - 1;
        last = now;
        return { total, byCommand };
      },
      async stop() {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
        await rm(directory, { recursive: true, force: true });
      },
    };
  }
}

async function info(port: number): Promise<{ processed: number; commands: Record<string, number> }> {
  const text = await command(port, ['INFO', 'everything']);
  const processed = Number(/total_commands_processed:(\d+)/.exec(text)?.[1] ?? NaN);
  const commands: Record<string, number> = {};
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) commands[match[1]!] = Number(match[2]);
  return { processed, commands };
}

/** One RESP command on a fresh connection; the raw reply. */
function command(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let reply = '';
    let expected = -1;
    socket.setTimeout(5_000, () => {
      socket.destroy();
      reject(new Error('redis: no answer'));
    });
    socket.once('error', reject);
    socket.once('connect', () => socket.write(`*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.startsWith('$') && expected < 0) {
        const end = reply.indexOf('\r\n');
        if (end > 0) expected = end + 2 + Number(reply.slice(1, end)) + 2;
      }
      if ((reply.startsWith('$') && expected >= 0 && reply.length >= expected) || (!reply.startsWith('$') && reply.endsWith('\r\n'))) {
        socket.end();
        resolve(reply);
      }
    });
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
