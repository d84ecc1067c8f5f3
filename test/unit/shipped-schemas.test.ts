/**
 * The schemas statics ships (settings, plan file, change event) are compiled at run time without
 * checking them against the meta-schema, which would cost more than the commands' own work: this
 * is where they are checked.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const dir = new URL('../../schemas/', import.meta.url);
const files = readdirSync(dir).filter((name) => name.endsWith('.schema.json'));

describe('shipped schemas', () => {
  it('are there', () => {
    expect(files).toEqual(expect.arrayContaining(['statics.schema.json', 'plan.schema.json', 'event.schema.json']));
  });

  it.each(files)('%s is a valid JSON Schema 2020-12 and compiles with unknown keywords refused', (name) => {
    const schema = JSON.parse(readFileSync(new URL(name, dir), 'utf8')) as object;
    const ajv = addFormats(new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true }));
    expect(ajv.validateSchema(schema), ajv.errorsText(ajv.errors)).toBe(true);
    expect(() => ajv.compile(schema)).not.toThrow();
    // The check can fail: a schema with a mistyped keyword value is refused.
    expect(ajv.validateSchema({ ...schema, type: 'objekt' })).toBe(false);
  });
});
