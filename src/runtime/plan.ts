/**
 * The stack plan: what the engine will do to each resource, decided before anything is done, as
 * `terraform plan` decides before `apply`. `pgstacks plan` prints it; the engine executes it.
 */
import { isConcatMarker, isObject, isRefMarker, isSecretMarker, isTerraformValueMarker, type Json, type JsonObject } from './spec';

export type PlanAction = 'create' | 'update' | 'replace' | 'delete' | 'forget' | 'no-op';

/** One changed field: its dotted path and its value before and after, as shown to people. */
export interface FieldChange {
  readonly path: string;
  readonly before?: string;
  readonly after?: string;
  /** The type cannot change it in place, so the object is replaced. */
  readonly forcesReplacement: boolean;
  /** The remote object differs from what pgstacks last applied (changed outside pgstacks). */
  readonly drift?: boolean;
}

export interface PlannedResource {
  readonly id: string;
  readonly type: string;
  action: PlanAction;
  /** Why, in a few words: `new`, `no longer declared`, `moved from 'old' (alias)`, … */
  reasons: string[];
  changes: FieldChange[];
  /** The remote object was found gone (deleted outside pgstacks). */
  gone?: boolean;
  /** Only the record changes (removal policy, aliases); no call to the service. */
  recordOnly?: boolean;
  /** Why this resource cannot be applied as declared; the run stops before its first write. */
  error?: string;
}

export interface StackPlan {
  readonly stack: string;
  readonly resources: PlannedResource[];
}

export const SENSITIVE = '(sensitive value)';
export const KNOWN_AFTER_APPLY = '(known after apply)';

/** Whether the plan changes anything: remote objects or records. */
export function hasChanges(plan: StackPlan): boolean {
  return plan.resources.some((r) => r.action !== 'no-op' || r.recordOnly);
}

export function summarize(plan: StackPlan): Record<PlanAction, number> {
  const counts: Record<PlanAction, number> = { create: 0, update: 0, replace: 0, delete: 0, forget: 0, 'no-op': 0 };
  for (const r of plan.resources) counts[r.action]++;
  return counts;
}

const SYMBOLS: Record<PlanAction, string> = { create: '+', update: '~', replace: '-/+', delete: '-', forget: '-', 'no-op': ' ' };

/** The plan as people read it: one block per resource that changes, then a summary line. */
export function formatPlan(plan: StackPlan): string[] {
  const lines: string[] = [];
  for (const r of plan.resources) {
    if (r.action === 'no-op' && !r.recordOnly && !r.error) continue;
    const what = r.action === 'no-op' ? 'record only' : r.action === 'forget' ? 'forget (RETAIN: the object is kept)' : r.action;
    const why = r.reasons.length ? ` (${r.reasons.join('; ')})` : '';
    lines.push(`${SYMBOLS[r.action]} ${r.id} [${r.type}]: ${what}${why}`);
    for (const c of r.changes) {
      const value =
        c.before === undefined ? `+ ${c.path} = ${c.after}`
        : c.after === undefined ? `- ${c.path} = ${c.before}`
        : `~ ${c.path}: ${c.before} -> ${c.after}`;
      const notes = [c.drift ? 'changed outside pgstacks' : '', c.forcesReplacement ? 'forces replacement' : ''].filter(Boolean);
      lines.push(`    ${value}${notes.length ? `  # ${notes.join(', ')}` : ''}`);
    }
    if (r.error) lines.push(`    error: ${r.error}`);
  }
  const n = summarize(plan);
  const unchanged = plan.resources.filter((r) => r.action === 'no-op' && !r.recordOnly).length;
  lines.push(
    hasChanges(plan)
      ? `Plan: ${n.create} to create, ${n.update} to update, ${n.replace} to replace, ${n.delete} to delete, ${n.forget} to forget; ${unchanged} unchanged.`
      : `No changes: all ${plan.resources.length} resource${plan.resources.length === 1 ? '' : 's'} of stack '${plan.stack}' match the code.`,
  );
  return lines;
}

// ------------------------------------------------------------------------------ prop diffs

const isLeafMarker = (v: unknown) => isSecretMarker(v) || isRefMarker(v) || isConcatMarker(v) || isTerraformValueMarker(v);

/** Leaf paths of a props document; markers, empty objects and empty arrays are leaves. */
export function leaves(value: Json, prefix = ''): Array<[string, Json]> {
  const isContainer = (Array.isArray(value) && value.length > 0) || (isObject(value) && Object.keys(value).length > 0 && !isLeafMarker(value));
  if (!isContainer) return [[prefix, value]];
  const entries: Array<[string, Json]> = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value as JsonObject);
  return entries.flatMap(([key, v]) => leaves(v, prefix ? `${prefix}.${key}` : key));
}

/** The dotted paths whose values differ. */
export function diffProps(before: JsonObject, after: JsonObject): string[] {
  const a = new Map(leaves(before).map(([p, v]) => [p, JSON.stringify(v)]));
  const b = new Map(leaves(after).map(([p, v]) => [p, JSON.stringify(v)]));
  return [...new Set([...a.keys(), ...b.keys()])].filter((p) => a.get(p) !== b.get(p)).sort();
}

export function isImmutable(path: string, immutable: readonly string[]): boolean {
  return immutable.some((p) => p === '*' || p === path || path.startsWith(`${p}.`) || p.startsWith(`${path}.`));
}

export function valueAt(value: Json | undefined, path: string): Json | undefined {
  let current: Json | undefined = value;
  for (const key of path.split('.')) current = isObject(current) || Array.isArray(current) ? (current as Record<string, Json>)[key] : undefined;
  return current;
}

/**
 * A stored-form value for a plan line: secrets masked, long values cut. In the stored form a
 * reference that is still a marker is one to a secret output (public ones are filled in); the
 * planner names values not known yet itself.
 */
export function showValue(value: Json | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (isSecretMarker(value) || isRefMarker(value) || (isConcatMarker(value) && value.$concat.some((p) => isSecretMarker(p) || isRefMarker(p)))) return SENSITIVE;
  if (isTerraformValueMarker(value) || isConcatMarker(value)) return KNOWN_AFTER_APPLY;
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
