/**
 * `databricks:lakebase-synced-table`: keeps a Postgres table on a branch in sync with a Unity
 * Catalog (Delta) table. There is no update: any change replaces it. A create waits until the
 * table is ONLINE, and fails when its provisioning fails.
 */
import * as z from 'zod';
import { SYNCED_TABLE_SCHEDULING_POLICIES } from '../../services/databricks';
import { defineLakebaseType, statusString } from './lakebase';
import { catalogName } from './catalog';
import { EVEN_WITH_REFERENCES } from './project';
import { workspaceSchema } from './workspace';

const threePart = z.string().regex(/^[A-Za-z0-9_]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+$/, "must be a three-part name, 'catalog.schema.table'");

export const syncedTableSchema = z
  .object({
    workspace: workspaceSchema,
    /** `catalog.schema.table` of the Postgres table (in a Lakebase catalog, or a standard one with `branch`). */
    syncedTableId: threePart,
    sourceTableFullName: threePart,
    primaryKeyColumns: z.array(z.string().min(1)).min(1, 'give at least one primary key column'),
    timeseriesKey: z.string().min(1).optional(),
    schedulingPolicy: z.enum(SYNCED_TABLE_SCHEDULING_POLICIES),
    branch: z.string().min(1).optional(),
    postgresDatabase: z.string().min(1).max(63).optional(),
    createDatabaseObjectsIfMissing: z.boolean().optional(),
    existingPipelineId: z.string().min(1).optional(),
    /** The Lakebase catalog the table is in (its resource name), so the table waits for it; not sent. */
    catalog: z.string().min(1).optional(),
    newPipelineSpec: z.object({ storageCatalog: catalogName, storageSchema: catalogName, budgetPolicyId: z.string().min(1).optional() }).strict().optional(),
    replaceExisting: z.boolean().optional(),
  })
  .strict()
  .refine((p) => !(p.existingPipelineId && p.newPipelineSpec), { message: 'give existingPipelineId or newPipelineSpec, not both', path: ['newPipelineSpec'], ...EVEN_WITH_REFERENCES });

export type LakebaseSyncedTableProps = z.infer<typeof syncedTableSchema>;
export type LakebaseSyncedTableOutputs = { name: string; state: string; pipelineId: string };

export const syncedTableType = defineLakebaseType<LakebaseSyncedTableProps, LakebaseSyncedTableOutputs>({
  name: 'databricks:lakebase-synced-table',
  module: __filename,
  schema: syncedTableSchema,
  noun: 'synced table',
  collection: 'synced_tables',
  idParam: 'synced_table_id',
  parent: () => undefined,
  id: (p) => p.syncedTableId,
  fields: [
    { prop: 'sourceTableFullName', wire: 'source_table_full_name' },
    { prop: 'primaryKeyColumns', wire: 'primary_key_columns' },
    { prop: 'timeseriesKey', wire: 'timeseries_key' },
    { prop: 'schedulingPolicy', wire: 'scheduling_policy' },
    { prop: 'branch', wire: 'branch' },
    { prop: 'postgresDatabase', wire: 'postgres_database' },
    { prop: 'createDatabaseObjectsIfMissing', wire: 'create_database_objects_if_missing', observed: false },
    { prop: 'existingPipelineId', wire: 'existing_pipeline_id', observed: false },
    {
      prop: 'newPipelineSpec',
      wire: 'new_pipeline_spec',
      observed: false,
      encode: (s: { storageCatalog: string; storageSchema: string; budgetPolicyId?: string }) => ({ storage_catalog: s.storageCatalog, storage_schema: s.storageSchema, budget_policy_id: s.budgetPolicyId }),
    },
  ],
  attributes: ['name', 'state', 'pipelineId'],
  outputs: (o) => ({ name: o.name, state: statusString(o, 'detailed_state'), pipelineId: statusString(o, 'pipeline_id') }),
  immutable: ['*'],
  defaultRemovalPolicy: 'destroy',
  ready: (o) => {
    const state = statusString(o, 'detailed_state');
    if (/FAILED/.test(state)) return { failed: `${state}: ${statusString(o, 'message') || 'no message'}` };
    return state.startsWith('SYNCED_TABLE_ONLINE');
  },
});
