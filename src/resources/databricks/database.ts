/**
 * `databricks:lakebase-database`: a Postgres database on a branch, owned by a role. Renames and
 * owner changes happen in place. Every branch has `databricks-postgres` (`databricks_postgres`):
 * declaring it adopts it.
 */
import * as z from 'zod';
import { LAKEBASE_DEFAULT_DATABASE } from '../../services/databricks';
import { defineLakebaseType } from './lakebase';
import { lakebaseId } from './project';
import { workspaceSchema } from './workspace';

export const databaseSchema = z
  .object({
    workspace: workspaceSchema,
    branch: z.string().min(1),
    databaseId: lakebaseId(4),
    postgresDatabase: z.string().min(1).max(63, 'must be at most 63 characters (a Postgres identifier)'),
    /** The owner role's resource name. */
    role: z.string().min(1),
    replaceExisting: z.boolean().optional(),
  })
  .strict();

export type LakebaseDatabaseProps = z.infer<typeof databaseSchema>;
export type LakebaseDatabaseOutputs = { name: string; databaseId: string; postgresDatabase: string };

export const databaseType = defineLakebaseType<LakebaseDatabaseProps, LakebaseDatabaseOutputs>({
  name: 'databricks:lakebase-database',
  module: __filename,
  schema: databaseSchema,
  noun: 'database',
  collection: 'databases',
  idParam: 'database_id',
  parent: (p) => p.branch,
  id: (p) => p.databaseId,
  fields: [
    { prop: 'postgresDatabase', wire: 'postgres_database', mask: 'spec.postgres_database' },
    { prop: 'role', wire: 'role', mask: 'spec.role' },
  ],
  attributes: ['name', 'databaseId', 'postgresDatabase'],
  outputs: (o, p) => ({ name: o.name, databaseId: p.databaseId, postgresDatabase: p.postgresDatabase }),
  immutable: ['workspace.host', 'branch', 'databaseId'],
  defaultRemovalPolicy: 'retain',
  isImplicit: (p) => p.databaseId === LAKEBASE_DEFAULT_DATABASE.id,
  clashHint: () => `A branch made from another inherits its databases: to manage an inherited database here, set replaceExisting: true.`,
});
