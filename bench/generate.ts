/**
 * A deterministic desired repository for the benchmark: N documents across several domains and
 * types, each type with a JSON Schema, mostly YAML of 0.5–5 KB, some JSON, text and binary files.
 * Every file is a pure function of (document index, version), so "change these documents" is
 * "write them again with another version", and two runs generate byte-identical trees.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Bumped whenever the output changes, so a cached tree is regenerated. */
export const GENERATOR_VERSION = 1;

export const DOMAINS = ['payments', 'checkout', 'search', 'identity', 'edge', 'notifications', 'catalog', 'ads'] as const;

interface TypeSpec {
  name: string;
  schema: object;
  /** The document with `n` repeated items (the knob for its size). */
  body(rng: Rng, n: number, version: number): Record<string, unknown>;
}

export interface GeneratedDocument {
  /** Relative to the repository root. */
  path: string;
  key: string;
  kind: 'yaml' | 'json' | 'text' | 'binary';
}

/** mulberry32: small, fast and good enough to make varied documents reproducibly. */
class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  word(): string {
    return this.pick(WORDS);
  }
  words(n: number): string {
    return Array.from({ length: n }, () => this.word()).join(' ');
  }
  slug(): string {
    return `${this.word()}-${this.word()}`;
  }
}

const WORDS = [
  'alpha', 'amber', 'anchor', 'apex', 'arc', 'atlas', 'aurora', 'basin', 'beacon', 'birch', 'blaze', 'bolt', 'breeze', 'brook',
  'canyon', 'cedar', 'cinder', 'cliff', 'cloud', 'comet', 'coral', 'crest', 'delta', 'dune', 'echo', 'ember', 'falcon', 'fern',
  'fjord', 'flint', 'forge', 'frost', 'glade', 'granite', 'harbor', 'hawk', 'helix', 'horizon', 'iris', 'ivory', 'jade', 'jet',
  'juniper', 'karst', 'kestrel', 'lagoon', 'lark', 'lumen', 'lynx', 'maple', 'meadow', 'mesa', 'mist', 'nebula', 'nova', 'oak',
  'onyx', 'orbit', 'pebble', 'pine', 'pixel', 'prism', 'quartz', 'quill', 'raven', 'reef', 'ridge', 'river', 'sage', 'shard',
  'sierra', 'slate', 'spruce', 'summit', 'tide', 'timber', 'topaz', 'tundra', 'umber', 'vale', 'vertex', 'willow', 'zephyr',
];
const TEAMS = ['team-checkout', 'team-search', 'team-identity', 'team-edge', 'team-growth', 'team-catalog', 'team-ads', 'team-platform'];
const COUNTRIES = ['US', 'CA', 'GB', 'DE', 'FR', 'ES', 'IT', 'NL', 'SE', 'JP', 'AU', 'BR', 'MX', 'IN', 'SG'];
const LOCALES = ['en-US', 'en-GB', 'de-DE', 'fr-FR', 'es-ES', 'it-IT', 'ja-JP', 'pt-BR'];

const owner = { type: 'string', pattern: '^(team-[a-z0-9-]+|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,})$' };
const description = { type: 'string', minLength: 10, maxLength: 600 };
const schemaBase = (title: string) => ({ $schema: 'https://json-schema.org/draft/2020-12/schema', title, type: 'object' });

const TYPES: TypeSpec[] = [
  {
    name: 'feature-flags',
    schema: {
      ...schemaBase('Feature flag'),
      required: ['enabled', 'owner', 'description'],
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        description,
        owner,
        rollout: {
          type: 'object',
          required: ['percent'],
          additionalProperties: false,
          properties: { percent: { type: 'number', minimum: 0, maximum: 100 }, stickiness: { enum: ['user', 'session', 'random'] } },
        },
        allowlist: { type: 'array', items: { type: 'string', minLength: 1 } },
        denylist: { type: 'array', items: { type: 'string', minLength: 1 } },
        expires: { type: 'string', format: 'date' },
      },
    },
    body: (rng, n, version) => ({
      enabled: rng.next() < 0.7,
      description: `${rng.words(8)} (v${version})`,
      owner: rng.pick(TEAMS),
      rollout: { percent: rng.int(0, 100), stickiness: rng.pick(['user', 'session', 'random']) },
      allowlist: Array.from({ length: n }, () => `user-${rng.int(100000, 999999)}@${rng.word()}.example.com`),
      denylist: Array.from({ length: rng.int(0, 5) }, () => `org-${rng.int(1000, 9999)}`),
      expires: `202${rng.int(5, 9)}-0${rng.int(1, 9)}-1${rng.int(0, 9)}`,
    }),
  },
  {
    name: 'rate-limits',
    schema: {
      ...schemaBase('Rate limits'),
      required: ['description', 'owner', 'limits'],
      additionalProperties: false,
      properties: {
        description,
        owner,
        limits: {
          type: 'array',
          items: {
            type: 'object',
            required: ['route', 'perSecond'],
            additionalProperties: false,
            properties: {
              route: { type: 'string', pattern: '^/' },
              method: { enum: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] },
              perSecond: { type: 'integer', minimum: 1 },
              burst: { type: 'integer', minimum: 0 },
              scope: { enum: ['ip', 'user', 'token', 'global'] },
            },
          },
        },
        exemptions: { type: 'array', items: { type: 'string' } },
      },
    },
    body: (rng, n, version) => ({
      description: `${rng.words(7)} (v${version})`,
      owner: rng.pick(TEAMS),
      limits: Array.from({ length: n }, () => ({
        route: `/${rng.word()}/${rng.word()}/{id}`,
        method: rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']),
        perSecond: rng.int(1, 5000),
        burst: rng.int(0, 10000),
        scope: rng.pick(['ip', 'user', 'token', 'global']),
      })),
      exemptions: Array.from({ length: rng.int(0, 4) }, () => `10.${rng.int(0, 255)}.${rng.int(0, 255)}.0/24`),
    }),
  },
  {
    name: 'routes',
    schema: {
      ...schemaBase('Routing table'),
      required: ['description', 'upstreams', 'rules'],
      additionalProperties: false,
      properties: {
        description,
        owner,
        upstreams: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['name', 'url'],
            properties: {
              name: { type: 'string' },
              url: { type: 'string', format: 'uri' },
              weight: { type: 'integer', minimum: 0, maximum: 100 },
              timeoutMs: { type: 'integer', minimum: 1 },
              retries: { type: 'integer', minimum: 0, maximum: 10 },
            },
          },
        },
        rules: {
          type: 'array',
          items: {
            type: 'object',
            required: ['match', 'upstream'],
            properties: {
              match: { type: 'object', properties: { pathPrefix: { type: 'string' }, headers: { type: 'object', additionalProperties: { type: 'string' } } } },
              upstream: { type: 'string' },
              rewrite: { type: 'string' },
            },
          },
        },
      },
    },
    body: (rng, n, version) => {
      const upstreams = Array.from({ length: rng.int(1, 4) }, () => ({
        name: rng.slug(),
        url: `https://${rng.word()}.${rng.word()}.internal:${rng.int(8000, 9000)}/`,
        weight: rng.int(0, 100),
        timeoutMs: rng.int(100, 30000),
        retries: rng.int(0, 5),
      }));
      return {
        description: `${rng.words(6)} (v${version})`,
        owner: rng.pick(TEAMS),
        upstreams,
        rules: Array.from({ length: n }, () => ({
          match: { pathPrefix: `/${rng.word()}/${rng.word()}`, headers: { 'x-client': rng.word(), 'x-region': rng.pick(COUNTRIES) } },
          upstream: rng.pick(upstreams).name,
          rewrite: `/v${rng.int(1, 3)}/${rng.word()}`,
        })),
      };
    },
  },
  {
    name: 'experiments',
    schema: {
      ...schemaBase('Experiment'),
      required: ['description', 'owner', 'status', 'variants'],
      additionalProperties: false,
      properties: {
        description,
        owner,
        status: { enum: ['draft', 'running', 'paused', 'finished'] },
        variants: {
          type: 'array',
          minItems: 2,
          items: {
            type: 'object',
            required: ['name', 'weight'],
            properties: { name: { type: 'string' }, weight: { type: 'number', minimum: 0 }, params: { type: 'object' } },
          },
        },
        metrics: { type: 'array', items: { type: 'string' } },
        audience: {
          type: 'object',
          properties: {
            countries: { type: 'array', items: { type: 'string', pattern: '^[A-Z]{2}$' } },
            platforms: { type: 'array', items: { enum: ['web', 'ios', 'android'] } },
          },
        },
      },
    },
    body: (rng, n, version) => ({
      description: `${rng.words(10)} (v${version})`,
      owner: rng.pick(TEAMS),
      status: rng.pick(['draft', 'running', 'paused', 'finished']),
      variants: Array.from({ length: Math.max(2, n) }, (_, i) => ({
        name: i === 0 ? 'control' : `variant-${i}`,
        weight: rng.int(1, 50),
        params: { color: rng.word(), layout: rng.pick(['grid', 'list', 'carousel']), threshold: rng.int(1, 1000) / 10, copy: rng.words(5) },
      })),
      metrics: Array.from({ length: rng.int(1, 6) }, () => `${rng.word()}_${rng.pick(['rate', 'count', 'p95', 'revenue'])}`),
      audience: { countries: Array.from({ length: rng.int(1, 6) }, () => rng.pick(COUNTRIES)), platforms: ['web', 'ios'] },
    }),
  },
  {
    name: 'pricing',
    schema: {
      ...schemaBase('Price list'),
      required: ['description', 'currency', 'tiers'],
      additionalProperties: false,
      properties: {
        description,
        owner,
        currency: { type: 'string', pattern: '^[A-Z]{3}$' },
        tiers: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'unitPrice'],
            properties: { name: { type: 'string' }, upTo: { type: ['integer', 'null'] }, unitPrice: { type: 'number', minimum: 0 } },
          },
        },
        regions: { type: 'object', additionalProperties: { type: 'object', properties: { multiplier: { type: 'number' }, tax: { type: 'number' } } } },
      },
    },
    body: (rng, n, version) => ({
      description: `${rng.words(6)} (v${version})`,
      owner: rng.pick(TEAMS),
      currency: rng.pick(['USD', 'EUR', 'GBP', 'JPY']),
      tiers: Array.from({ length: n }, (_, i) => ({ name: `${rng.word()}-${i}`, upTo: i % 5 === 4 ? null : (i + 1) * 1000, unitPrice: rng.int(1, 100000) / 100 })),
      regions: Object.fromEntries(Array.from({ length: rng.int(1, 8) }, () => [rng.pick(COUNTRIES), { multiplier: rng.int(80, 140) / 100, tax: rng.int(0, 25) / 100 }])),
    }),
  },
  {
    name: 'templates',
    schema: {
      ...schemaBase('Notification template'),
      required: ['description', 'channel', 'locales'],
      additionalProperties: false,
      properties: {
        description,
        owner,
        channel: { enum: ['email', 'sms', 'push'] },
        locales: {
          type: 'object',
          additionalProperties: { type: 'object', required: ['subject', 'body'], properties: { subject: { type: 'string' }, body: { type: 'string' } } },
        },
      },
    },
    body: (rng, n, version) => {
      const locales = Object.fromEntries(
        LOCALES.slice(0, Math.min(LOCALES.length, Math.ceil(n / 3))).map((locale) => [
          locale,
          {
            subject: `${rng.words(5)} {{name}}`,
            body: Array.from({ length: 1 + (n % 3) + Math.floor(n / 8) }, () => `${rng.words(9)} {{${rng.word()}}}.`).join('\n') + '\n',
          },
        ]),
      );
      return { description: `${rng.words(6)} (v${version})`, owner: rng.pick(TEAMS), channel: rng.pick(['email', 'sms', 'push']), locales };
    },
  },
  {
    name: 'synonyms',
    schema: {
      ...schemaBase('Search synonyms'),
      required: ['description', 'groups'],
      additionalProperties: false,
      properties: {
        description,
        owner,
        language: { type: 'string' },
        groups: { type: 'array', items: { type: 'array', minItems: 2, items: { type: 'string', minLength: 1 } } },
      },
    },
    body: (rng, n, version) => ({
      description: `${rng.words(6)} (v${version})`,
      owner: rng.pick(TEAMS),
      language: rng.pick(LOCALES),
      groups: Array.from({ length: n }, () => Array.from({ length: rng.int(2, 5) }, () => rng.word())),
    }),
  },
  {
    name: 'services',
    schema: {
      ...schemaBase('Service settings'),
      required: ['description', 'owner', 'replicas'],
      additionalProperties: false,
      properties: {
        description,
        owner,
        replicas: { type: 'integer', minimum: 0 },
        resources: { type: 'object', properties: { cpu: { type: 'string' }, memory: { type: 'string' } } },
        env: { type: 'object', additionalProperties: { type: 'string' } },
        healthcheck: { type: 'object', properties: { path: { type: 'string' }, intervalSeconds: { type: 'integer' } } },
      },
    },
    body: (rng, n, version) => ({
      description: `${rng.words(6)} (v${version})`,
      owner: rng.pick(TEAMS),
      replicas: rng.int(1, 40),
      resources: { cpu: `${rng.int(1, 16) * 250}m`, memory: `${rng.int(1, 32) * 256}Mi` },
      env: Object.fromEntries(Array.from({ length: n }, (_, i) => [`${rng.word().toUpperCase()}_${rng.word().toUpperCase()}_${i}`, `${rng.word()}-${rng.int(1, 99999)}`])),
      healthcheck: { path: `/${rng.word()}/health`, intervalSeconds: rng.int(5, 60) },
    }),
  },
];

/** Which types each domain has (a stable subset: 4 types per domain). */
function typesOf(domainIndex: number): TypeSpec[] {
  return [0, 1, 2, 3].map((k) => TYPES[(domainIndex * 3 + k) % TYPES.length]!);
}

/** Where document `index` lives and what kind it is; stable for a given index. */
export function documentAt(index: number): GeneratedDocument & { type: TypeSpec | null; domain: string } {
  const rng = new Rng(index * 2654435761);
  const domainIndex = index % DOMAINS.length;
  const domain = DOMAINS[domainIndex]!;
  const roll = rng.next();
  const id = `${rng.slug()}-${index}`;
  if (roll < 0.01) {
    const ext = rng.pick(['png', 'der', 'bin']);
    const type = ext === 'der' ? 'certificates' : ext === 'png' ? 'images' : 'models';
    return { path: `documents/${domain}/${type}/${id}.${ext}`, key: `${domain}/${type}/${id}`, kind: 'binary', type: null, domain };
  }
  if (roll < 0.015) {
    return { path: `documents/${domain}/robots/${id}.txt`, key: `${domain}/robots/${id}`, kind: 'text', type: null, domain };
  }
  const type = rng.pick(typesOf(domainIndex));
  const json = roll < 0.065;
  const ext = json ? 'json' : rng.next() < 0.1 ? 'yml' : 'yaml';
  return { path: `documents/${domain}/${type.name}/${id}.${ext}`, key: `${domain}/${type.name}/${id}`, kind: json ? 'json' : 'yaml', type, domain };
}

/** The bytes of document `index` at `version`. */
export function documentBytes(index: number, version: number): Buffer {
  const where = documentAt(index);
  const rng = new Rng((index * 2654435761) ^ (version * 40503) ^ 0x9e3779b9);
  // 0.5–5 KB, skewed towards the small end as real configuration is.
  const target = Math.round(500 * Math.pow(10, Math.pow(rng.next(), 1.5)));
  if (where.kind === 'binary') {
    const bytes = Buffer.alloc(target);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rng.next() * 256);
    return bytes;
  }
  if (where.kind === 'text') {
    const lines = ['# robots.txt', `# revision ${version}`, 'User-agent: *'];
    while (lines.join('\n').length < target) lines.push(`Disallow: /${rng.word()}/${rng.word()}/`);
    return Buffer.from(lines.join('\n') + '\n');
  }
  const seed = (index * 2654435761) ^ (version * 40503) ^ 0x5bd1e995;
  const render = (n: number): string => {
    const body = where.type!.body(new Rng(seed), n, version);
    if (where.kind === 'json') return JSON.stringify(body, null, 2) + '\n';
    return `# ${where.key}\n# Owned by ${String(body['owner'] ?? 'team-platform')}; change through a pull request.\n${toYaml(body, '')}`;
  };
  // Two sizes measured give the size of one item: enough to aim at the target.
  const one = render(1).length;
  const perItem = Math.max(1, (render(5).length - one) / 4);
  let n = Math.max(1, 1 + Math.round((target - one) / perItem));
  let text = render(n);
  // Some types grow faster than linearly: keep every document within 0.5–5 KB.
  while (text.length > 5000 && n > 1) text = render((n = Math.floor(n * 0.8)));
  while (text.length < 500 && n < 200) text = render(++n);
  return Buffer.from(text);
}

const PLAIN = /^[A-Za-z_/][A-Za-z0-9 _./@{}()-]*$/;
const RESERVED = /^(true|false|null|yes|no|on|off|y|n|~)$/i;

/** Block-style YAML as people write it: plain scalars where safe, literal blocks for text. */
function toYaml(value: unknown, indent: string): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return ' []\n';
    return '\n' + value.map((item) => `${indent}-${itemYaml(item, indent + '  ')}`).join('');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return ' {}\n';
    return '\n' + entries.map(([key, item]) => `${indent}${scalar(key)}:${toYaml(item, indent + '  ')}`).join('');
  }
  if (typeof value === 'string' && value.includes('\n')) {
    return ` |\n${value.replace(/\n$/, '').split('\n').map((line) => `${indent}${line}`).join('\n')}\n`;
  }
  return ` ${scalar(value)}\n`;
}

/** A sequence item: a map's first key shares the dash line. */
function itemYaml(value: unknown, indent: string): string {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    return ' ' + toYaml(value, indent).slice(1 + indent.length);
  }
  return toYaml(value, indent);
}

function scalar(value: unknown): string {
  if (typeof value !== 'string') return String(value);
  return PLAIN.test(value) && !RESERVED.test(value) && !value.endsWith(' ') && !value.includes(': ') && !value.includes(' #') ? value : JSON.stringify(value);
}

export interface GenerateOptions {
  dir: string;
  docs: number;
}

/** Writes the repository; returns every document in index order. */
export async function generateRepository(options: GenerateOptions): Promise<GeneratedDocument[]> {
  await rm(options.dir, { recursive: true, force: true });
  await mkdir(path.join(options.dir, 'schemas'), { recursive: true });
  await writeFile(path.join(options.dir, 'statics.yaml'), '# Generated by npm run bench.\nprune: false\n');
  for (const type of TYPES) {
    await writeFile(path.join(options.dir, 'schemas', `${type.name}.schema.json`), JSON.stringify(type.schema, null, 2) + '\n');
  }
  // One domain-specific schema, as repositories have: payments' flags must name an expiry.
  const paymentsFlags = structuredClone(TYPES[0]!.schema) as { required: string[] };
  paymentsFlags.required = [...paymentsFlags.required, 'expires'];
  await mkdir(path.join(options.dir, 'schemas', 'payments'), { recursive: true });
  await writeFile(path.join(options.dir, 'schemas', 'payments', 'feature-flags.schema.json'), JSON.stringify(paymentsFlags, null, 2) + '\n');

  const documents: GeneratedDocument[] = [];
  const folders = new Set<string>();
  for (let index = 0; index < options.docs; index++) {
    const where = documentAt(index);
    documents.push({ path: where.path, key: where.key, kind: where.kind });
    folders.add(path.dirname(where.path));
  }
  for (const folder of folders) await mkdir(path.join(options.dir, folder), { recursive: true });
  await writeAll(options.dir, documents.map((_, index) => index), 0);
  return documents;
}

/** Writes documents `indexes` at `version` (the change a commit would make). */
export async function writeDocuments(dir: string, indexes: readonly number[], version: number): Promise<void> {
  await writeAll(dir, indexes, version);
}

async function writeAll(dir: string, indexes: readonly number[], version: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < indexes.length) {
      const index = indexes[next++]!;
      await writeFile(path.join(dir, documentAt(index).path), documentBytes(index, version));
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}
