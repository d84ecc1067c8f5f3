/**
 * The hidden first line of the sticky plan comment: which directory and store it is about, and the
 * identity of the plan it shows. Values are percent-encoded so nothing in them can end the HTML
 * comment (`-->`, `--!>`) or be confused with the next field.
 */
export interface CommentTarget {
  /** The desired repository, relative to the workspace, `/`-separated (`.` for the root). */
  dir: string;
  /** The store, as safe to print (no credentials; file:// stores relative to the workspace). */
  store: string;
}

export interface Marker extends CommentTarget {
  /** The plan shown, or null when the comment reports a failed plan. */
  planId: string | null;
}

const MARKER_NAME = 'statics-plan';
const PLAN_ID = /^[0-9a-f]{64}$/;
const LINE = /^<!-- statics-plan dir=(\S+) store=(\S+) plan-id=(\S+) -->$/;

/** Percent-encoding of everything outside a small safe set (which excludes `<`, `>`, `!`, `%` and spaces). */
export function encodeMarkerValue(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%(2F|3A|40|2B|2C|3D)/g, (escape) => decodeURIComponent(escape));
}

export function markerLine(marker: Marker): string {
  if (marker.planId !== null && !PLAN_ID.test(marker.planId)) throw new Error(`not a plan id: ${marker.planId}`);
  return `<!-- ${MARKER_NAME} dir=${encodeMarkerValue(marker.dir || '.')} store=${encodeMarkerValue(marker.store)} plan-id=${marker.planId ?? 'none'} -->`;
}

/** The marker of a comment body: only its first line counts, so quoted or embedded copies never match. */
export function parseMarker(body: string): Marker | null {
  const firstLine = body.split('\n', 1)[0]!.replace(/\r$/, '');
  const match = LINE.exec(firstLine);
  if (!match) return null;
  try {
    const planId = match[3] === 'none' ? null : match[3]!;
    if (planId !== null && !PLAN_ID.test(planId)) return null;
    return { dir: decodeURIComponent(match[1]!), store: decodeURIComponent(match[2]!), planId };
  } catch {
    // A malformed escape is not our marker.
    return null;
  }
}

export function sameTarget(a: CommentTarget, b: CommentTarget): boolean {
  return (a.dir || '.') === (b.dir || '.') && a.store === b.store;
}
