/** JSON Schema validation of desired documents, with every violation placed at file:line:col. */
export { loadSchemas, type SchemaSet } from './schemas.js';
export { validateValue, displayPath } from './report.js';
export type { SourceMap } from '../desired/structured.js';
