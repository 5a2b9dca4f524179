/**
 * `databricks:lakebase-project`: a Lakebase Autoscaling project. The service gives it a
 * `production` branch (with a `primary` endpoint, an owner role and a `databricks_postgres`
 * database), which LakebaseBranch and its siblings adopt when declared.
 */
import * as z from 'zod';
import { LAKEBASE_ID } from '../../services/databricks';
import { defineLakebaseType, duration, statusString } from './lakebase';
import { workspaceSchema } from './workspace';

/** An id of a project, branch or endpoint: the rule the service applies, quoted in the error. */
export const lakebaseId = (min = 1) =>
  z
    .string()
    .min(min, `must be ${min}-63 characters`)
    .max(63, `must be ${min}-63 characters`)
    .regex(LAKEBASE_ID, `must match ${LAKEBASE_ID.source}: start with a lowercase letter, then lowercase letters, digits or '-', not ending in '-'`);

/** Autoscaling limits in compute units. */
export const computeUnits = z.number().min(0.5, 'must be at least 0.5 CU').max(64, 'must be at most 64 CU');
/** How long an idle endpoint waits before it suspends: 60 s to 7 days (`noSuspension` for never). */
export const suspendTimeoutSeconds = z.number().int().min(60, 'must be 60-604800 seconds').max(604_800, 'must be 60-604800 seconds');

/**
 * Cross-field rules of autoscaling and suspension. They run even when another field is a
 * deploy-time reference (as at synth, where zod would otherwise skip them), and judge only the
 * fields that are plain values.
 */
export function checkEndpointSettings(s: { minCu?: unknown; maxCu?: unknown; noSuspension?: unknown; suspendTimeoutSeconds?: unknown }, ctx: z.RefinementCtx): void {
  const { minCu, maxCu } = s;
  if (typeof minCu === 'number' && typeof maxCu === 'number') {
    if (maxCu < minCu) ctx.addIssue({ code: 'custom', message: 'maxCu must be at least minCu', path: ['maxCu'] });
    else if (maxCu - minCu > 16) ctx.addIssue({ code: 'custom', message: 'maxCu - minCu must be at most 16 CU', path: ['maxCu'] });
  }
  if (s.noSuspension === true && s.suspendTimeoutSeconds !== undefined) ctx.addIssue({ code: 'custom', message: 'give suspendTimeoutSeconds or noSuspension, not both', path: ['noSuspension'] });
}

/** Options for a refinement that must run even when other fields failed (they may be references). */
export const EVEN_WITH_REFERENCES = { when: () => true };
export const endpointSettingsSchema = z
  .object({
    minCu: computeUnits.optional(),
    maxCu: computeUnits.optional(),
    suspendTimeoutSeconds: suspendTimeoutSeconds.optional(),
    noSuspension: z.boolean().optional(),
    pgSettings: z.record(z.string(), z.string()).optional(),
  })
  .strict()
  .superRefine(checkEndpointSettings, EVEN_WITH_REFERENCES);

export type EndpointSettings = z.infer<typeof endpointSettingsSchema>;

/** Endpoint settings in the wire's words. */
export function endpointSettings(s: EndpointSettings): Record<string, unknown> {
  return {
    autoscaling_limit_min_cu: s.minCu,
    autoscaling_limit_max_cu: s.maxCu,
    suspend_timeout_duration: s.suspendTimeoutSeconds === undefined ? undefined : duration(s.suspendTimeoutSeconds),
    no_suspension: s.noSuspension,
    pg_settings: s.pgSettings,
  };
}

export const projectSchema = z
  .object({
    workspace: workspaceSchema,
    projectId: lakebaseId(),
    displayName: z.string().min(1).max(256, 'must be 1-256 characters').optional(),
    pgVersion: z.number().int().min(14).max(18).optional(),
    historyRetentionSeconds: z.number().int().min(172_800, 'must be 172800-3024000 seconds (2-35 days)').max(3_024_000, 'must be 172800-3024000 seconds (2-35 days)').optional(),
    defaultEndpointSettings: endpointSettingsSchema.optional(),
    customTags: z.record(z.string(), z.string()).optional(),
    enablePgNativeLogin: z.boolean().optional(),
    budgetPolicyId: z.string().min(1).optional(),
    /** Delete for good instead of the service's soft delete (restorable for a while). */
    purgeOnDelete: z.boolean().optional(),
    replaceExisting: z.boolean().optional(),
  })
  .strict();

export type LakebaseProjectProps = z.infer<typeof projectSchema>;
export type LakebaseProjectOutputs = { name: string; projectId: string; uid: string; defaultBranch: string };

export const projectType = defineLakebaseType<LakebaseProjectProps, LakebaseProjectOutputs>({
  name: 'databricks:lakebase-project',
  module: __filename,
  schema: projectSchema,
  noun: 'project',
  collection: 'projects',
  idParam: 'project_id',
  parent: () => undefined,
  id: (p) => p.projectId,
  fields: [
    { prop: 'displayName', wire: 'display_name', mask: 'spec.display_name' },
    { prop: 'pgVersion', wire: 'pg_version' },
    { prop: 'historyRetentionSeconds', wire: 'history_retention_duration', mask: 'spec.history_retention_duration', encode: duration },
    { prop: 'defaultEndpointSettings', wire: 'default_endpoint_settings', mask: 'spec.default_endpoint_settings', encode: endpointSettings },
    { prop: 'customTags', wire: 'custom_tags', mask: 'spec.custom_tags', encode: (tags: Record<string, string>) => Object.entries(tags).map(([key, value]) => ({ key, value })), observed: false },
    { prop: 'enablePgNativeLogin', wire: 'enable_pg_native_login', mask: 'spec.enable_pg_native_login' },
    { prop: 'budgetPolicyId', wire: 'budget_policy_id', mask: 'spec.budget_policy_id' },
  ],
  attributes: ['name', 'projectId', 'uid', 'defaultBranch'],
  outputs: (o, p) => ({ name: o.name, projectId: p.projectId, uid: o.uid ?? '', defaultBranch: statusString(o, 'default_branch') || `${o.name}/branches/production` }),
  immutable: ['workspace.host', 'projectId', 'pgVersion'],
  defaultRemovalPolicy: 'retain',
  deleteQuery: (p) => (p.purgeOnDelete ? { purge: true } : {}),
});
