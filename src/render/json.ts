/** JSON renderings: the plan file format itself (schemas/plan.schema.json) and apply reports. */
import type { ApplyReport, Plan } from '../model.js';

export function renderPlanJson(plan: Plan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}

export function renderApplyJson(report: ApplyReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
