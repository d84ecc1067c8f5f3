/** Saved plans: the JSON of schemas/plan.schema.json, checked whole before anything is applied. */
import { createHash } from 'node:crypto';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import planSchema from '../../schemas/plan.schema.json' with { type: 'json' };
import { StaticsError } from '../errors.js';
import type { Plan } from '../model.js';
import { PLAN_FORMAT, PLAN_FORMAT_VERSION } from '../model.js';
import { planIdentity } from './identity.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
let compiledPlanValidator: ValidateFunction | undefined;

/**
 * Compiled on first use, so commands that never read a plan file do not pay for it. The schema is
 * ours (checked against the meta-schema by the tests): ajv need not compile the meta-schema for it.
 */
function planValidator(): ValidateFunction {
  if (!compiledPlanValidator) {
    const ajv = new Ajv2020({ allErrors: false, strict: false, validateSchema: false });
    addFormats(ajv);
    compiledPlanValidator = ajv.compile(planSchema);
  }
  return compiledPlanValidator;
}

export function serializePlan(plan: Plan): string {
  return JSON.stringify(plan, null, 2) + '\n';
}

/** Parses and checks a saved plan; every way it can be wrong is a one-line `plan-file` error naming the file. */
export function parsePlan(text: string, file: string): Plan {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new StaticsError('plan-file', `not a statics plan file: ${oneLine((error as Error).message)}`, { file });
  }
  const header = value as Partial<Plan> | null;
  if (typeof header !== 'object' || header === null || header.format !== PLAN_FORMAT) {
    throw new StaticsError('plan-file', 'not a statics plan file (no "format": "statics-plan")', { file });
  }
  if (header.formatVersion !== PLAN_FORMAT_VERSION) {
    throw new StaticsError('plan-file', `plan format version ${String(header.formatVersion)} is not supported (this statics reads version ${PLAN_FORMAT_VERSION})`, { file });
  }
  const validatePlan = planValidator();
  if (!validatePlan(value)) {
    const error = validatePlan.errors?.[0];
    throw new StaticsError('plan-file', `invalid plan file: ${error?.instancePath || '/'} ${error?.message ?? ''}`.trim(), { file });
  }
  const plan = value as unknown as Plan;
  if (planIdentity(plan.entries) !== plan.id) {
    throw new StaticsError('plan-file', 'the plan was altered after it was made (its id does not match its entries)', { file });
  }
  for (const entry of plan.entries) {
    if ((entry.action === 'create' || entry.action === 'update') && !entry.content) {
      throw new StaticsError('plan-file', `entry ${entry.key} carries no content`, { file });
    }
    if (entry.content && sha256Hex(Buffer.from(entry.content.data, entry.content.encoding)) !== entry.revision) {
      throw new StaticsError('plan-file', `the content of ${entry.key} does not match its revision (the file was altered)`, { file });
    }
  }
  return plan;
}

function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** JSON.parse quotes the input around an error, newlines included: keep messages to one line. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
