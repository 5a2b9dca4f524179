/**
 * `databricks:lakebase-endpoint`: a compute endpoint of a branch, where clients connect. Every
 * branch has one read-write endpoint, `primary`, made with the branch: declaring it adopts it.
 * Autoscaling limits, suspension and settings change in place.
 */
import * as z from 'zod';
import { LAKEBASE_POSTGRES_PORT, LAKEBASE_PRIMARY_ENDPOINT } from '../../services/databricks';
import { defineLakebaseType, duration, statusString } from './lakebase';
import { checkEndpointSettings, computeUnits, EVEN_WITH_REFERENCES, lakebaseId, suspendTimeoutSeconds } from './project';
import { workspaceSchema } from './workspace';

export const endpointSchema = z
  .object({
    workspace: workspaceSchema,
    /** The branch's resource name. */
    branch: z.string().min(1),
    endpointId: lakebaseId(),
    endpointType: z.enum(['READ_WRITE', 'READ_ONLY']),
    minCu: computeUnits.optional(),
    maxCu: computeUnits.optional(),
    suspendTimeoutSeconds: suspendTimeoutSeconds.optional(),
    noSuspension: z.boolean().optional(),
    disabled: z.boolean().optional(),
    pgSettings: z.record(z.string(), z.string()).optional(),
    /** High availability: `min` = `max` ≥ 1 computes. */
    group: z.object({ min: z.number().int().min(1), max: z.number().int().min(1), enableReadableSecondaries: z.boolean().optional() }).strict().refine((g) => g.min === g.max, { message: 'min must equal max', path: ['max'] }).optional(),
    replaceExisting: z.boolean().optional(),
  })
  .strict()
  .superRefine(checkEndpointSettings, EVEN_WITH_REFERENCES);

export type LakebaseEndpointProps = z.infer<typeof endpointSchema>;
export type LakebaseEndpointOutputs = { name: string; endpointId: string; host: string; readOnlyHost: string; port: number };

const hosts = (o: { status?: Record<string, unknown> }) => (o.status?.hosts ?? {}) as { host?: string; read_only_host?: string };

export const endpointType = defineLakebaseType<LakebaseEndpointProps, LakebaseEndpointOutputs>({
  name: 'databricks:lakebase-endpoint',
  module: __filename,
  schema: endpointSchema,
  noun: 'endpoint',
  collection: 'endpoints',
  idParam: 'endpoint_id',
  parent: (p) => p.branch,
  id: (p) => p.endpointId,
  fields: [
    { prop: 'endpointType', wire: 'endpoint_type', encode: (t: string) => `ENDPOINT_TYPE_${t}` },
    { prop: 'minCu', wire: 'autoscaling_limit_min_cu', mask: 'spec.autoscaling_limit_min_cu' },
    { prop: 'maxCu', wire: 'autoscaling_limit_max_cu', mask: 'spec.autoscaling_limit_max_cu' },
    { prop: 'suspendTimeoutSeconds', wire: 'suspend_timeout_duration', mask: 'spec.suspension', encode: duration },
    { prop: 'noSuspension', wire: 'no_suspension', mask: 'spec.suspension' },
    { prop: 'disabled', wire: 'disabled', mask: 'spec.disabled' },
    { prop: 'pgSettings', wire: 'settings', mask: 'spec.settings', encode: (pg: Record<string, string>) => ({ pg_settings: pg }) },
    { prop: 'group', wire: 'group', mask: 'spec.group', encode: (g: { min: number; max: number; enableReadableSecondaries?: boolean }) => ({ min: g.min, max: g.max, enable_readable_secondaries: g.enableReadableSecondaries }) },
  ],
  attributes: ['name', 'endpointId', 'host', 'readOnlyHost', 'port'],
  stableAttributes: ['name', 'endpointId', 'host', 'readOnlyHost', 'port'],
  outputs: (o, p) => ({ name: o.name, endpointId: p.endpointId, host: hosts(o).host ?? '', readOnlyHost: hosts(o).read_only_host ?? '', port: LAKEBASE_POSTGRES_PORT }),
  immutable: ['workspace.host', 'branch', 'endpointId', 'endpointType'],
  defaultRemovalPolicy: 'destroy',
  isImplicit: (p) => p.endpointId === LAKEBASE_PRIMARY_ENDPOINT,
  clashHint: (p) =>
    p.endpointType === 'READ_WRITE'
      ? `A branch has exactly one read-write endpoint, made with the branch as 'primary': to manage it, give endpointId 'primary' (pgstacks adopts it); for more computes, add READ_ONLY endpoints.`
      : undefined,
  // A finished operation can leave the endpoint still reconciling; clients wait for that too.
  ready: (o) => !statusString(o, 'pending_state'),
});
