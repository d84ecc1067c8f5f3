/**
 * A private redis-server for integration tests: free port on 127.0.0.1, no persistence, a temp dir
 * as cwd, torn down at stop (and killed if the test process exits first).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

export interface TestRedis {
  url: string;
  port: number;
  /** PEM of the self-signed certificate, when started with `tls: true` (trust it as the CA). */
  ca?: string;
  stop(): Promise<void>;
  /** Same port; empty data unless started `persistent`. */
  restart(): Promise<void>;
  /** SIGSTOP: the server keeps its sockets but answers nothing. */
  pause(): void;
  resume(): void;
}

export interface StartRedisOptions {
  password?: string;
  /** Serve TLS only (rediss://) with a fresh self-signed certificate for 127.0.0.1. */
  tls?: boolean;
  /** Keep data across `restart` (append-only file, fsync on every write). */
  persistent?: boolean;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function findRedisServer(): string {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  throw new Error('redis-server not found; install it (Debian: apt-get install -y redis-server)');
}

export async function startRedis(options: StartRedisOptions = {}): Promise<TestRedis> {
  const binary = findRedisServer();
  const dir = await mkdtemp(path.join(tmpdir(), 'statics-redis-'));
  const ca = options.tls ? await makeCertificate(dir) : undefined;
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const child of live) child.kill('SIGKILL');
    });
  }

  let port = 0;
  let child: ChildProcess | null = null;
  let paused = false;

  const launch = async (): Promise<void> => {
    const args = [
      '--bind', '127.0.0.1',
      '--save', '',
      ...(options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      '--dir', dir,
      '--daemonize', 'no',
      '--loglevel', 'warning',
      ...(options.password ? ['--requirepass', options.password] : []),
      ...(ca
        ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', 'cert.pem', '--tls-key-file', 'key.pem', '--tls-ca-cert-file', 'cert.pem', '--tls-auth-clients', 'no']
        : ['--port', String(port)]),
    ];
    const proc = spawn(binary, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-2000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let exited = false;
    proc.once('exit', () => {
      exited = true;
      live.delete(proc);
    });
    live.add(proc);
    const deadline = Date.now() + 10_000;
    while (!(await ping(port, options.password, ca))) {
      if (exited) throw new Error(`redis-server exited on port ${port}: ${output.trim()}`);
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`redis-server did not answer PING on port ${port}: ${output.trim()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child = proc;
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    if (paused) proc.kill('SIGCONT');
    paused = false;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  };

  // A free port can be taken between finding and binding it: try a few.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (error) {
      if (attempt >= 4) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }

  return {
    url: `${ca ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    port,
    ...(ca ? { ca } : {}),
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await kill();
      await launch();
    },
    pause() {
      if (child && !paused) {
        child.kill('SIGSTOP');
        paused = true;
      }
    },
    resume() {
      if (child && paused) {
        child.kill('SIGCONT');
        paused = false;
      }
    },
  };
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

/** One RESP round trip (AUTH when needed, then PING); false on any failure. */
function ping(port: number, password: string | undefined, ca: string | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const resp = (...args: string[]): string => `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
    const socket = ca ? tls.connect({ host: '127.0.0.1', port, ca }) : net.connect({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once(ca ? 'secureConnect' : 'connect', () => socket.write((password ? resp('AUTH', password) : '') + resp('PING')));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString();
      if (answer.includes('+PONG')) done(true);
      else if (answer.includes('-')) done(false);
    });
  });
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI. */
async function makeCertificate(dir: string): Promise<string> {
  const args = [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ];
  await new Promise<void>((resolve, reject) => {
    execFile('openssl', args, { timeout: 10_000 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`openssl could not make a test certificate: ${stderr || error.message}`));
      else resolve();
    });
  });
  return readFile(path.join(dir, 'cert.pem'), 'utf8');
}
