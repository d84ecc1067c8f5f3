/**
 * statics.yaml, parsed and checked against its schema: apart from settings.ts because the YAML
 * parser and the validator take a while to load, and not every command needs them first.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { LineCounter, parseDocument } from 'yaml';
import staticsSchema from '../../schemas/statics.schema.json' with { type: 'json' };
import { StaticsError } from '../errors.js';
import { SETTINGS_FILE } from './settings.js';

/** The file's settings as written (checked, not yet merged or converted); errors name the line. */
export function parseSettingsFile(text: string): Record<string, unknown> {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const problem = document.errors[0] ?? document.warnings[0];
  if (problem) {
    const at = lineCounter.linePos(problem.pos[0]);
    throw new StaticsError('config', problem.message.split('\n')[0] ?? 'invalid YAML', { file: SETTINGS_FILE, line: at.line, col: at.col });
  }
  const value = document.toJS() ?? {};
  const validateSettingsFile = settingsValidator();
  if (!validateSettingsFile(value)) {
    const error = validateSettingsFile.errors?.[0];
    const where = error?.instancePath ? error.instancePath.slice(1).replaceAll('/', '.') + ': ' : '';
    const extra = error?.keyword === 'additionalProperties' ? ` "${(error.params as { additionalProperty: string }).additionalProperty}"` : '';
    let line: number | undefined;
    let col: number | undefined;
    const node = document.getIn(error?.instancePath ? error.instancePath.slice(1).split('/') : [], true) as { range?: [number, number] } | undefined;
    if (node?.range) ({ line, col } = lineCounter.linePos(node.range[0]));
    throw new StaticsError('config', `${where}${error?.message ?? 'invalid settings'}${extra}`, { file: SETTINGS_FILE, line, col });
  }
  return value as Record<string, unknown>;
}

let compiledSettingsValidator: ValidateFunction | undefined;

/**
 * Compiled on first use: compiling costs more than most commands' own work. The schema is ours
 * (checked against the meta-schema by the tests), so ajv need not compile the meta-schema to check it.
 */
function settingsValidator(): ValidateFunction {
  compiledSettingsValidator ??= new Ajv2020({ allErrors: false, strict: false, validateSchema: false }).compile(staticsSchema);
  return compiledSettingsValidator;
}

