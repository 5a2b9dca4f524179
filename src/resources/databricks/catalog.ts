/**
 * `databricks:lakebase-catalog`: registers a branch's Postgres database in Unity Catalog. There
 * is no update: any change replaces the registration. A database can have one catalog.
 */
import * as z from 'zod';
import { defineLakebaseType } from './lakebase';
import { workspaceSchema } from './workspace';

/** Unity Catalog names: letters, digits and underscores. */
export const catalogName = z.string().min(1).max(255).regex(/^[A-Za-z0-9_]+$/, 'must be letters, digits and underscores (a Unity Catalog name)');

export const catalogSchema = z
  .object({
    workspace: workspaceSchema,
    catalogId: catalogName,
    branch: z.string().min(1),
    postgresDatabase: z.string().min(1).max(63),
    createDatabaseIfMissing: z.boolean().optional(),
    replaceExisting: z.boolean().optional(),
  })
  .strict();

export type LakebaseCatalogProps = z.infer<typeof catalogSchema>;
export type LakebaseCatalogOutputs = { name: string; catalogId: string };

export const catalogType = defineLakebaseType<LakebaseCatalogProps, LakebaseCatalogOutputs>({
  name: 'databricks:lakebase-catalog',
  module: __filename,
  schema: catalogSchema,
  noun: 'catalog',
  collection: 'catalogs',
  idParam: 'catalog_id',
  parent: () => undefined,
  id: (p) => p.catalogId,
  fields: [
    { prop: 'branch', wire: 'branch' },
    { prop: 'postgresDatabase', wire: 'postgres_database' },
    { prop: 'createDatabaseIfMissing', wire: 'create_database_if_missing', observed: false },
  ],
  attributes: ['name', 'catalogId'],
  outputs: (o, p) => ({ name: o.name, catalogId: p.catalogId }),
  immutable: ['*'],
  defaultRemovalPolicy: 'destroy',
});
