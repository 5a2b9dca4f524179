/**
 * Zod schemas of the Lakebase request bodies: the bare resource object (`{"spec": {…}}`, never
 * wrapped), snake_case, durations and timestamps in their JSON forms. Output-only fields a client
 * sends back (`name`, `status`, `uid`, …) and unknown fields are ignored; JSON `null` is the same as
 * an absent field. Which fields a create requires, and the rules between fields, are checked by the
 * handlers, which word those errors as the service does.
 */
import * as z from 'zod';
import {
  ENDPOINT_TYPES,
  LAKEBASE_LIMITS,
  ROLE_AUTH_METHODS,
  ROLE_IDENTITY_TYPES,
  ROLE_MEMBERSHIP_ROLES,
  SYNCED_TABLE_SCHEDULING_POLICIES,
} from '../../services/databricks';
import { durationSchema, pagingQuery, queryFlag, timestampSchema } from './wire';

/** An optional field: absent or `null` is `undefined`. */
function opt<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === null ? undefined : value), schema.optional());
}

/** A Postgres identifier: 1-63 bytes (Postgres would truncate a longer one), no NUL. */
export const pgIdentifier = z
  .string()
  .min(1, 'must not be empty')
  .refine((v) => Buffer.byteLength(v) <= 63, 'must be at most 63 bytes (the Postgres limit for names)')
  .refine((v) => !v.includes('\0'), 'must not contain the NUL character');

const { computeUnits: cuLimits, suspendTimeoutSeconds, historyRetentionSeconds } = LAKEBASE_LIMITS;

const computeUnits = z
  .number()
  .refine((v) => v >= cuLimits.min, `must be at least ${cuLimits.min} CU`)
  .refine((v) => v <= cuLimits.max, `must be at most ${cuLimits.max} CU`);

const suspendTimeout = durationSchema.refine(
  (s) => s >= suspendTimeoutSeconds.min && s <= suspendTimeoutSeconds.max,
  `must be between ${suspendTimeoutSeconds.min}s and ${suspendTimeoutSeconds.max}s`,
);

const pgSettings = z.record(z.string(), z.string());

export const defaultEndpointSettings = z.object({
  autoscaling_limit_min_cu: opt(computeUnits),
  autoscaling_limit_max_cu: opt(computeUnits),
  suspend_timeout_duration: opt(suspendTimeout),
  no_suspension: opt(z.boolean()),
  pg_settings: opt(pgSettings),
});
export type DefaultEndpointSettings = z.output<typeof defaultEndpointSettings>;

const endpointGroup = z.object({
  min: z.number().int().min(1, 'must be at least 1'),
  max: z.number().int().min(1, 'must be at least 1'),
  enable_readable_secondaries: opt(z.boolean()),
});

export const projectSpec = z.object({
  display_name: opt(z.string().min(1, 'must not be empty').max(LAKEBASE_LIMITS.displayNameMaxLength, `must be at most ${LAKEBASE_LIMITS.displayNameMaxLength} characters`)),
  pg_version: opt(z.number().int().refine((v) => v === 16 || v === 17, 'must be 16 or 17')),
  history_retention_duration: opt(
    durationSchema.refine(
      (s) => s >= historyRetentionSeconds.min && s <= historyRetentionSeconds.max,
      `must be between ${historyRetentionSeconds.min}s and ${historyRetentionSeconds.max}s (2 to 35 days)`,
    ),
  ),
  default_endpoint_settings: opt(defaultEndpointSettings),
  budget_policy_id: opt(z.string()),
  custom_tags: opt(z.array(z.object({ key: z.string(), value: z.string().default('') }))),
  enable_pg_native_login: opt(z.boolean()),
  default_branch: opt(z.string()),
  compute_provisioner: opt(z.string()),
});
export type ProjectSpec = z.output<typeof projectSpec>;

export const projectBody = opt(
  z.object({
    spec: opt(projectSpec),
    initial_endpoint_spec: opt(
      z.object({
        autoscaling_limit_min_cu: opt(computeUnits),
        autoscaling_limit_max_cu: opt(computeUnits),
        suspend_timeout_duration: opt(suspendTimeout),
        no_suspension: opt(z.boolean()),
        group: opt(endpointGroup),
      }),
    ),
    initial_branch_spec: opt(z.object({ is_protected: opt(z.boolean()) })),
    initial_role_spec: opt(z.record(z.string(), z.unknown())),
    initial_database_spec: opt(z.object({ postgres_database: opt(pgIdentifier) })),
  }),
);
export type ProjectBody = NonNullable<z.output<typeof projectBody>>;

export const branchSpec = z.object({
  source_branch: opt(z.string()),
  source_branch_lsn: opt(z.string()),
  source_branch_time: opt(timestampSchema),
  source_snapshot: opt(z.string()),
  is_protected: opt(z.boolean()),
  ttl: opt(durationSchema.refine((s) => s > 0, 'must be positive')),
  expire_time: opt(timestampSchema),
  no_expiry: opt(z.boolean()),
});
export type BranchSpec = z.output<typeof branchSpec>;
export const branchBody = opt(z.object({ spec: opt(branchSpec) }));

export const endpointSpec = z.object({
  endpoint_type: opt(z.enum(ENDPOINT_TYPES)),
  autoscaling_limit_min_cu: opt(computeUnits),
  autoscaling_limit_max_cu: opt(computeUnits),
  suspend_timeout_duration: opt(suspendTimeout),
  no_suspension: opt(z.boolean()),
  disabled: opt(z.boolean()),
  settings: opt(z.object({ pg_settings: opt(pgSettings) })),
  group: opt(endpointGroup),
});
export type EndpointSpec = z.output<typeof endpointSpec>;
export const endpointBody = opt(z.object({ spec: opt(endpointSpec) }));

export const roleAttributes = z.object({
  createdb: opt(z.boolean()),
  createrole: opt(z.boolean()),
  bypassrls: opt(z.boolean()),
});

export const roleSpec = z.object({
  postgres_role: opt(pgIdentifier),
  identity_type: opt(z.enum(ROLE_IDENTITY_TYPES)),
  auth_method: opt(z.enum(ROLE_AUTH_METHODS)),
  membership_roles: opt(z.array(z.enum(ROLE_MEMBERSHIP_ROLES))),
  attributes: opt(roleAttributes),
});
export type RoleSpec = z.output<typeof roleSpec>;
export const roleBody = opt(z.object({ spec: opt(roleSpec) }));

export const databaseSpec = z.object({
  postgres_database: opt(pgIdentifier),
  role: opt(z.string()),
});
export const databaseBody = opt(z.object({ spec: opt(databaseSpec) }));

export const catalogBody = opt(
  z.object({
    spec: opt(
      z.object({
        postgres_database: opt(pgIdentifier),
        branch: opt(z.string()),
        create_database_if_missing: opt(z.boolean()),
      }),
    ),
  }),
);

export const syncedTableBody = opt(
  z.object({
    spec: opt(
      z.object({
        source_table_full_name: opt(z.string()),
        primary_key_columns: opt(z.array(pgIdentifier)),
        timeseries_key: opt(pgIdentifier),
        scheduling_policy: opt(z.enum(SYNCED_TABLE_SCHEDULING_POLICIES)),
        branch: opt(z.string()),
        postgres_database: opt(pgIdentifier),
        create_database_objects_if_missing: opt(z.boolean()),
        existing_pipeline_id: opt(z.string()),
        new_pipeline_spec: opt(z.record(z.string(), z.unknown())),
      }),
    ),
  }),
);

export const credentialBody = opt(
  z.object({
    endpoint: opt(z.string()),
    claims: opt(
      z.array(
        z.object({
          permission_set: opt(z.enum(['READ_ONLY'])),
          resources: opt(z.array(z.object({ table_name: opt(z.string()) }))),
        }),
      ),
    ),
    ttl: opt(durationSchema),
    expire_time: opt(timestampSchema),
    group_name: opt(z.string()),
  }),
);

// ------------------------------------------------------------------------------ queries

/** A create's query: the id under its own name (`project_id`, …) as `id`, and `replace_existing`. */
export function createQuery(idName: string) {
  return z.preprocess(
    (query) => ({ ...(query as Record<string, unknown>), id: (query as Record<string, unknown>)[idName] }),
    z.object({ id: z.string().optional(), replace_existing: queryFlag }),
  );
}
export const listQuery = z.object({ ...pagingQuery, show_deleted: queryFlag });
export const updateQuery = z.object({ update_mask: z.string().optional() });
export const deleteQuery = z.object({ purge: queryFlag, allow_missing: queryFlag, reassign_owned_to: z.string().optional() });
