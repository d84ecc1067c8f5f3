/** Turning ajv's errors into one readable problem per violation, placed on the offending source. */
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { ErrorCode, Problem } from '../errors.js';
import { sortProblems, type SourceMap } from '../desired/structured.js';
import { childOf, locate, locationOf, pointerSegments } from './locate.js';

/** Every violation of `validate` by `value`, as `file:line:col: message` problems sorted by position. */
export function validateValue(value: unknown, source: SourceMap, validate: ValidateFunction, file: string): Problem[] {
  if (validate(value)) return [];
  return errorsToProblems(validate.errors ?? [], value, source, file, 'schema');
}

export function errorsToProblems(
  errors: readonly ErrorObject[],
  value: unknown,
  source: SourceMap,
  file: string,
  code: ErrorCode,
  prefix = '',
): Problem[] {
  // ajv adds a summary `propertyNames` error after the specific one naming the property.
  const namedProperties = new Set(errors.flatMap((error) => (error.propertyName === undefined ? [] : [error.propertyName])));
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (error.keyword === 'propertyNames' && namedProperties.has(String(error.params['propertyName']))) continue;
    const problem = toProblem(error, value, source, file, code, prefix);
    const id = `${problem.location?.line}:${problem.location?.col}:${problem.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    problems.push(problem);
  }
  return sortProblems(problems);
}

function toProblem(error: ErrorObject, value: unknown, source: SourceMap, file: string, code: ErrorCode, prefix: string): Problem {
  const segments = pointerSegments(error.instancePath);
  const path = displayPath(segments, value);
  const at = path === '' ? '' : `${path}: `;
  const params = error.params as Record<string, unknown>;
  const located = locate(source, segments);

  // The property a message is about, when the error names one inside the object at instancePath.
  const property =
    error.propertyName ??
    (error.keyword === 'additionalProperties' ? stringParam(params['additionalProperty']) : undefined) ??
    (error.keyword === 'unevaluatedProperties' ? stringParam(params['unevaluatedProperty']) : undefined);
  let node = located.node;
  if (property !== undefined && located.exact) {
    const child = childOf(source, located.node, property);
    if (child) node = child.key ?? child.value ?? node;
  }

  let message: string;
  switch (error.keyword) {
    case 'required':
      message = `${at}missing required property ${JSON.stringify(params['missingProperty'])}`;
      break;
    case 'additionalProperties':
    case 'unevaluatedProperties':
      message = `${at}unknown property ${JSON.stringify(property)}`;
      break;
    case 'enum':
      message = `${at}must be one of ${listValues(params['allowedValues'])}`;
      break;
    case 'const':
      message = `${at}must be ${JSON.stringify(params['allowedValue'])}`;
      break;
    case 'false schema':
      message = error.propertyName !== undefined ? `${at}property name ${JSON.stringify(error.propertyName)} is not allowed` : `${at}not allowed here`;
      break;
    default:
      message =
        error.propertyName !== undefined
          ? `${at}property name ${JSON.stringify(error.propertyName)} ${error.message ?? 'is not valid'}`
          : `${at}${error.message ?? `fails "${error.keyword}"`}`;
  }
  return { code, message: prefix + message, location: locationOf(source, node, file) };
}

function stringParam(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function listValues(values: unknown): string {
  if (!Array.isArray(values)) return 'the allowed values';
  const shown = values.slice(0, 10).map((item) => JSON.stringify(item));
  return values.length > 10 ? `${shown.join(', ')}, …` : shown.join(', ');
}

const PLAIN_PROPERTY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `rollout.percent`, `allowlist[2]`, `labels["a.b"]`: the path as a reader would write it. */
export function displayPath(segments: readonly string[], value: unknown): string {
  let path = '';
  let current: unknown = value;
  for (const segment of segments) {
    if (Array.isArray(current)) {
      path += `[${segment}]`;
      current = current[Number(segment)];
      continue;
    }
    path += PLAIN_PROPERTY.test(segment) ? (path === '' ? segment : `.${segment}`) : `[${JSON.stringify(segment)}]`;
    current = current !== null && typeof current === 'object' ? (current as Record<string, unknown>)[segment] : undefined;
  }
  return path;
}
