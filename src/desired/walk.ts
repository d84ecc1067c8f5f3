/**
 * Walking documents/<domain>/<type>/<id>.<ext>: names, layout and symlinks are checked here,
 * before any file is read. Entries come out in key order (domain, type, id by code point).
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { ErrorCode, Problem } from '../errors.js';
import { isValidName, NAME_PATTERN } from '../keys.js';
import { compareCodePoints } from './canonical.js';

/** One file that should become a document, located but not yet read. */
export interface DesiredFile {
  /** `domain/type/id`. */
  key: string;
  domain: string;
  type: string;
  id: string;
  /** The last extension, without the dot, as written. */
  ext: string;
  /** Relative to the repository root, `/` separators. */
  path: string;
  /** Where to read it (may be a symlink already checked to stay inside the repository). */
  absolutePath: string;
}

export type WalkEntry = { file: DesiredFile } | { problem: Problem };

export const NAME_RULE = `names must match ${NAME_PATTERN.source} and not contain ".."`;
const LAYOUT = 'documents live at documents/<domain>/<type>/<id>.<ext>';
const EXTENSION_PATTERN = /^[A-Za-z0-9_-]+$/;

/** A directory or file, with the real path it stands for (symlinks resolved and checked). */
interface FoundEntry {
  name: string;
  absolutePath: string;
  /** Relative to the repository root, `/` separators. */
  path: string;
  realPath: string;
  isLink: boolean;
}
export interface FoundDirectory extends FoundEntry {
  kind: 'directory';
}
export interface FoundFile extends FoundEntry {
  kind: 'file';
}
export type ResolvedEntry = FoundDirectory | FoundFile | { kind: 'problem'; name: string; problem: Problem };

export function problemAt(code: ErrorCode, file: string, message: string): Problem {
  return { code, message, location: { file } };
}

/** Whether `candidate` is `root` or lies below it (both real paths). */
export function isInside(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Lists a directory: visible entries sorted by name, each resolved to a directory or a file.
 * Hidden entries (`.DS_Store`, `.gitkeep`, `.git`) are skipped on purpose: they are never
 * documents and editors and tools leave them everywhere. A symlink must resolve inside `rootReal`.
 */
export async function listDirectory(
  rootReal: string,
  absolutePath: string,
  path: string,
  realPath: string,
): Promise<{ entries: ResolvedEntry[] } | { problem: Problem }> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(absolutePath, { withFileTypes: true });
  } catch (error) {
    return { problem: problemAt('unreadable', path, `cannot read folder: ${systemMessage(error)}`) };
  }
  const visible = dirents.filter((dirent) => !dirent.name.startsWith('.'));
  visible.sort((a, b) => compareCodePoints(a.name, b.name));
  // Plain files and folders are resolved at once; only symlinks need more system calls. Names
  // hold no separator, so joining by hand gives what path.join would, at a fraction of the cost.
  const entries = visible.map((dirent) => resolveEntry(rootReal, dirent, `${absolutePath}${sep}${dirent.name}`, `${path}/${dirent.name}`, `${realPath}${sep}${dirent.name}`));
  return { entries: entries.some((entry) => entry instanceof Promise) ? await Promise.all(entries) : (entries as ResolvedEntry[]) };
}

function resolveEntry(rootReal: string, dirent: Dirent, absolutePath: string, path: string, realPathIfPlain: string): ResolvedEntry | Promise<ResolvedEntry> {
  const name = dirent.name;
  if (dirent.isDirectory()) return { kind: 'directory', name, absolutePath, path, realPath: realPathIfPlain, isLink: false };
  if (dirent.isFile()) return { kind: 'file', name, absolutePath, path, realPath: realPathIfPlain, isLink: false };
  if (!dirent.isSymbolicLink()) {
    return { kind: 'problem', name, problem: problemAt('unreadable', path, 'not a regular file or folder') };
  }
  return resolveLink(rootReal, name, absolutePath, path);
}

async function resolveLink(rootReal: string, name: string, absolutePath: string, path: string): Promise<ResolvedEntry> {
  const found = (kind: 'directory' | 'file', realPath: string): ResolvedEntry =>
    kind === 'directory' ? { kind, name, absolutePath, path, realPath, isLink: true } : { kind, name, absolutePath, path, realPath, isLink: true };
  let target: string;
  try {
    target = await realpath(absolutePath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT' ? 'broken symbolic link: its target does not exist'
      : code === 'ELOOP' ? 'symbolic link loop'
      : `cannot resolve symbolic link: ${systemMessage(error)}`;
    return { kind: 'problem', name, problem: problemAt('unreadable', path, message) };
  }
  if (!isInside(rootReal, target)) {
    return { kind: 'problem', name, problem: problemAt('symlink', path, `symbolic link leads outside the repository (to ${target})`) };
  }
  try {
    const info = await stat(target);
    if (info.isDirectory()) return found('directory', target);
    if (info.isFile()) return found('file', target);
    return { kind: 'problem', name, problem: problemAt('unreadable', path, 'symbolic link to something that is not a regular file or folder') };
  } catch (error) {
    return { kind: 'problem', name, problem: problemAt('unreadable', path, `cannot read: ${systemMessage(error)}`) };
  }
}

/**
 * A string built by concatenation, flattened. V8 keeps those as trees of their parts (about ten
 * nodes a file here, the larger part of what a 100,000-file walk holds); converting one to a
 * number makes V8 flatten it in place, and the garbage collector then drops the parts.
 */
function flat(text: string): string {
  void Number(text);
  return text;
}

export function systemMessage(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOENT':
      return 'no such file or folder';
    case 'EISDIR':
      return 'is a folder';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

/** Every file of the documents tree, in key order, and every naming or layout problem in place. */
export async function walkDocuments(root: string, accept?: (key: string) => boolean): Promise<WalkEntry[]> {
  const missing: WalkEntry[] = [{ problem: { code: 'unreadable', message: `no documents/ folder in ${root}` } }];
  let rootReal: string;
  try {
    rootReal = await realpath(root);
  } catch {
    return missing;
  }
  const documentsPath = join(root, 'documents');
  let documentsReal: string;
  try {
    const info = await lstat(documentsPath);
    documentsReal = info.isSymbolicLink() ? await realpath(documentsPath) : join(rootReal, 'documents');
    if (!isInside(rootReal, documentsReal)) {
      return [{ problem: problemAt('symlink', 'documents', `symbolic link leads outside the repository (to ${documentsReal})`) }];
    }
    if (!(await stat(documentsReal)).isDirectory()) {
      return [{ problem: problemAt('unreadable', 'documents', 'documents is not a folder') }];
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return missing;
    return [{ problem: problemAt('unreadable', 'documents', `cannot read: ${systemMessage(error)}`) }];
  }
  const walker = new DocumentsWalker(rootReal, accept);
  return walker.walkDocumentsFolder(documentsPath, documentsReal);
}

class DocumentsWalker {
  constructor(
    private readonly rootReal: string,
    private readonly accept: ((key: string) => boolean) | undefined,
  ) {}

  async walkDocumentsFolder(absolutePath: string, realPath: string): Promise<WalkEntry[]> {
    const listing = await listDirectory(this.rootReal, absolutePath, 'documents', realPath);
    if ('problem' in listing) return [listing];
    const ancestors = new Set([realPath]);
    const parts = await Promise.all(
      listing.entries.map(async (entry): Promise<WalkEntry[]> => {
        if (entry.kind === 'problem') return [entry];
        if (entry.kind === 'file') return [{ problem: problemAt('invalid-name', entry.path, `not in a domain/type folder: ${LAYOUT}`) }];
        if (!isValidName(entry.name)) {
          return [{ problem: problemAt('invalid-name', entry.path, `"${entry.name}" is not a valid domain name: ${NAME_RULE}`) }];
        }
        const cycle = this.cycleProblem(entry, ancestors);
        if (cycle) return [cycle];
        return this.walkDomain(entry, new Set([...ancestors, entry.realPath]));
      }),
    );
    return parts.flat();
  }

  private async walkDomain(domain: FoundDirectory, ancestors: Set<string>): Promise<WalkEntry[]> {
    const listing = await listDirectory(this.rootReal, domain.absolutePath, domain.path, domain.realPath);
    if ('problem' in listing) return [listing];
    const parts = await Promise.all(
      listing.entries.map(async (entry): Promise<WalkEntry[]> => {
        if (entry.kind === 'problem') return [entry];
        if (entry.kind === 'file') return [{ problem: problemAt('invalid-name', entry.path, `not in a type folder: ${LAYOUT}`) }];
        if (!isValidName(entry.name)) {
          return [{ problem: problemAt('invalid-name', entry.path, `"${entry.name}" is not a valid type name: ${NAME_RULE}`) }];
        }
        const cycle = this.cycleProblem(entry, ancestors);
        if (cycle) return [cycle];
        return this.walkType(domain.name, entry, new Set([...ancestors, entry.realPath]));
      }),
    );
    return parts.flat();
  }

  private async walkType(domain: string, typeEntry: FoundDirectory, ancestors: Set<string>): Promise<WalkEntry[]> {
    const type = typeEntry.name;
    const listing = await listDirectory(this.rootReal, typeEntry.absolutePath, typeEntry.path, typeEntry.realPath);
    if ('problem' in listing) return [listing];
    // Sorted by id, not by file name: `a-b.yaml` sorts before `a.yaml` but id `a` before `a-b`.
    const slots: Array<{ sortKey: string; entries: WalkEntry[] }> = [];
    const byId = new Map<string, FoundFile[]>();
    for (const entry of listing.entries) {
      if (entry.kind === 'problem') {
        slots.push({ sortKey: entry.name, entries: [entry] });
        continue;
      }
      if (entry.kind === 'directory') {
        slots.push({ sortKey: entry.name, entries: await this.tooDeep(entry, ancestors) });
        continue;
      }
      const dot = entry.name.lastIndexOf('.');
      if (dot <= 0 || dot === entry.name.length - 1) {
        slots.push({ sortKey: entry.name, entries: [{ problem: problemAt('invalid-name', entry.path, `no file extension: ${LAYOUT}`) }] });
        continue;
      }
      const id = entry.name.slice(0, dot);
      const ext = entry.name.slice(dot + 1);
      if (!isValidName(id)) {
        slots.push({
          sortKey: entry.name,
          entries: [{ problem: problemAt('invalid-name', entry.path, `"${id}" is not a valid document id: ${NAME_RULE}`) }],
        });
        continue;
      }
      if (!EXTENSION_PATTERN.test(ext)) {
        slots.push({
          sortKey: entry.name,
          entries: [{ problem: problemAt('invalid-name', entry.path, `"${ext}" is not a valid file extension (letters, digits, "_" and "-")`) }],
        });
        continue;
      }
      const sameId = byId.get(id);
      if (sameId) sameId.push(entry);
      else byId.set(id, [entry]);
    }
    for (const [id, files] of byId) {
      const key = `${domain}/${type}/${id}`;
      if (files.length > 1) {
        const paths = files.map((file) => file.path);
        slots.push({
          sortKey: id,
          entries: files.map((file) => ({
            problem: problemAt(
              'invalid-name',
              file.path,
              `the document key ${key} also comes from ${paths.filter((path) => path !== file.path).join(', ')}: keep one file per key`,
            ),
          })),
        });
        continue;
      }
      if (this.accept && !this.accept(key)) continue;
      const file = files[0]!;
      const ext = file.name.slice(id.length + 1);
      slots.push({
        sortKey: id,
        entries: [{ file: { key: flat(key), domain, type, id, ext, path: flat(file.path), absolutePath: flat(file.absolutePath) } }],
      });
    }
    slots.sort((a, b) => compareCodePoints(a.sortKey, b.sortKey));
    return slots.flatMap((slot) => slot.entries);
  }

  /** Files below documents/<domain>/<type>/ are misplaced; name each so the mistake is plain. */
  private async tooDeep(folder: FoundDirectory, ancestors: Set<string>): Promise<WalkEntry[]> {
    const cycle = this.cycleProblem(folder, ancestors);
    if (cycle) return [cycle];
    const listing = await listDirectory(this.rootReal, folder.absolutePath, folder.path, folder.realPath);
    if ('problem' in listing) return [listing];
    const inner = new Set([...ancestors, folder.realPath]);
    const found: WalkEntry[] = [];
    for (const entry of listing.entries) {
      if (entry.kind === 'problem') found.push(entry);
      else if (entry.kind === 'file') found.push({ problem: problemAt('invalid-name', entry.path, `folder too deep: ${LAYOUT}`) });
      else found.push(...(await this.tooDeep(entry, inner)));
    }
    return found;
  }

  private cycleProblem(entry: FoundDirectory, ancestors: Set<string>): WalkEntry | undefined {
    // Only reachable through a symlink, but checked for every folder to be sure the walk ends.
    if (!ancestors.has(entry.realPath)) return undefined;
    return { problem: problemAt('symlink', entry.path, 'symbolic link cycle: it leads back to a folder that contains it') };
  }
}
