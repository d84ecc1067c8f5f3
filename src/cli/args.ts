/** Command-line parsing on node:util's parseArgs: unknown flags are errors, not ignored. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { StaticsError } from '../errors.js';
import { closest } from './suggest.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Flags every command takes. */
export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  debug: { type: 'boolean' },
  'no-color': { type: 'boolean' },
} satisfies OptionSpec;

/** Flags that choose the backends. */
export const BACKEND_OPTIONS = {
  store: { type: 'string' },
  redis: { type: 'string' },
  'redis-namespace': { type: 'string' },
} satisfies OptionSpec;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseCommandArgs(command: string, argv: string[], options: OptionSpec, maxPositionals: number): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, '');
    const unknown = /^Unknown option '--([^']+)'/.exec(message)?.[1];
    const suggestion = unknown === undefined ? undefined : closest(unknown, Object.keys({ ...COMMON_OPTIONS, ...options }));
    const hint = suggestion ? `; did you mean --${suggestion}?` : '';
    throw new StaticsError('usage', `${command}: ${message.replace(/^Unknown option/, 'unknown option')}${hint} (see statics ${command} --help)`);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new StaticsError('usage', `${command}: unexpected argument "${parsed.positionals[maxPositionals]}" (see statics ${command} --help)`);
  }
  return parsed as Parsed;
}

export function stringOption(parsed: Parsed, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function listOption(parsed: Parsed, name: string): string[] {
  const value = parsed.values[name];
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
}

export function flag(parsed: Parsed, name: string): boolean {
  return parsed.values[name] === true;
}
