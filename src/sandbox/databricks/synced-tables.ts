/**
 * Synced tables (`/api/2.0/postgres/synced_tables`): a Delta table kept in sync into a Postgres
 * table of a branch. The sandbox has no Delta source: it creates the Postgres table at once (the
 * primary key columns as `text`, the timeseries key if any, and `_synced_at timestamptz`), and the
 * status walks through the provisioning states to the scheduling policy's online state over the
 * configured provisioning time. The target is the catalog's branch and database when the first
 * part of the id is a Lakebase catalog, else `spec.branch` and `spec.postgres_database`.
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { route, type Route } from '../http';
import { callerGuard } from './api';
import type { DatabricksAuth } from './auth';
import { branchByName, createMissingDatabase } from './catalogs';
import { alreadyExists, invalidParameter, lakebaseError, notFound, requiredField, requiredMessage } from './errors';
import type { Lakebase } from './lakebase';
import type { SyncedTableRecord } from './model';
import { createSyncedTable, dropSyncedTable } from './pgsql';
import { createQuery, syncedTableBody } from './schemas';

const params = z.object({ table: z.string() });

/** `catalog.schema.table`, each part non-empty. */
function threeParts(value: string, field: string): [string, string, string] {
  const parts = value.split('.');
  if (parts.length !== 3 || parts.some((p) => p === '')) throw invalidParameter(`Field ${field} must be a three-part name catalog.schema.table, got '${value}'.`);
  return parts as [string, string, string];
}

export function syncedTableRoutes(auth: DatabricksAuth, lakebase: Lakebase): Route[] {
  const { store, ops, clock } = lakebase;
  const guard = callerGuard(auth, lakebase);

  return [
    route({
      method: 'POST',
      path: '/synced_tables',
      guard,
      query: createQuery('synced_table_id'),
      body: syncedTableBody,
      handler: (_ctx, { guard: caller, query, body }) =>
        lakebase.serialize(async () => {
          const id = query.id;
          if (!id) throw requiredField('synced_table_id');
          const [catalogId, schema, table] = threeParts(id, 'synced_table_id');
          const name = `synced_tables/${id}`;
          if (await store.get('synced_table', name)) throw alreadyExists('synced table');
          const spec = body?.spec;
          if (!spec || Object.values(spec).every((v) => v === undefined)) throw requiredMessage('synced_table');
          if (!spec.source_table_full_name) throw requiredField('synced_table.spec.source_table_full_name');
          threeParts(spec.source_table_full_name, 'synced_table.spec.source_table_full_name');
          if (!spec.primary_key_columns || spec.primary_key_columns.length === 0) throw requiredField('synced_table.spec.primary_key_columns');
          const catalog = await store.get('catalog', `catalogs/${catalogId}`);
          if (catalog) {
            if (spec.branch !== undefined && spec.branch !== catalog.branch) throw invalidParameter(`Field 'synced_table.spec.branch' must be the catalog's branch '${catalog.branch}' or unset`);
            if (spec.postgres_database !== undefined && spec.postgres_database !== catalog.postgres_database) {
              throw invalidParameter(`Field 'synced_table.spec.postgres_database' must be the catalog's database '${catalog.postgres_database}' or unset`);
            }
          } else {
            if (!spec.branch) throw requiredField('synced_table.spec.branch');
            if (!spec.postgres_database) throw requiredField('synced_table.spec.postgres_database');
          }
          const branch = await branchByName(lakebase, catalog?.branch ?? spec.branch!, 'synced_table.spec.branch');
          const postgresDatabase = catalog?.postgres_database ?? spec.postgres_database!;
          const createObjects = spec.create_database_objects_if_missing ?? true;
          const database = (await store.all('database', branch.name)).find((d) => d.postgres_database === postgresDatabase);
          if (!database && !createObjects) {
            throw lakebaseError(404, 'NOT_FOUND', `database '${postgresDatabase}' not found in branch '${branch.name}'; set spec.create_database_objects_if_missing to create it`);
          }
          return ops.start({ kind: 'synced_table', action: 'create', resource: name }, async () => {
            const target = database ?? (await createMissingDatabase(lakebase, branch, postgresDatabase, caller));
            const owner = await store.get('role', target.role);
            await lakebase.withDatabase(branch, postgresDatabase, (client) =>
              createSyncedTable(client, {
                schema,
                table,
                primaryKey: spec.primary_key_columns!,
                ...(spec.timeseries_key ? { timeseriesKey: spec.timeseries_key } : {}),
                ...(owner ? { owner: owner.postgres_role } : {}),
                createSchema: createObjects,
              }),
            );
            const now = clock.now();
            const record: SyncedTableRecord = {
              kind: 'synced_table',
              name,
              id,
              uid: randomUUID(),
              createTime: now,
              updateTime: now,
              source_table_full_name: spec.source_table_full_name!,
              primary_key_columns: spec.primary_key_columns!,
              ...(spec.timeseries_key ? { timeseries_key: spec.timeseries_key } : {}),
              scheduling_policy: spec.scheduling_policy ?? 'SNAPSHOT',
              branch: branch.name,
              project: branch.parent,
              postgres_database: postgresDatabase,
              schema,
              table,
              pipeline_id: spec.existing_pipeline_id ?? randomUUID(),
              provisioningMs: lakebase.options.syncedTableProvisioningMs,
            };
            await store.put(record);
            return lakebase.view(record);
          });
        }),
    }),
    route({
      method: 'GET',
      path: '/synced_tables/:table',
      guard,
      params,
      async handler(_ctx, { params: { table } }) {
        const record = await store.get('synced_table', `synced_tables/${table}`);
        if (!record) throw notFound('synced table');
        return lakebase.view(record);
      },
    }),
    route({
      method: 'DELETE',
      path: '/synced_tables/:table',
      guard,
      params,
      handler: (_ctx, { params: { table } }) =>
        lakebase.serialize(async () => {
          const record = await store.get('synced_table', `synced_tables/${table}`);
          if (!record) throw notFound('synced table');
          return ops.start({ kind: 'synced_table', action: 'delete', resource: record.name }, async () => {
            const branch = await store.get('branch', record.branch);
            if (branch && branch.deleteTime === undefined) {
              await lakebase.withDatabase(branch, record.postgres_database, (client) => dropSyncedTable(client, record.schema, record.table)).catch(() => undefined);
            }
            await store.delete(record.name);
            return undefined;
          });
        }),
    }),
  ];
}
