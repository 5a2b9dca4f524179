/**
 * Catalogs (`/api/2.0/postgres/catalogs`): a Postgres database of a branch registered in Unity
 * Catalog. The sandbox has no Unity Catalog, so a catalog is only its record; it refuses a second
 * registration of the same database of the same branch, and can create the database first
 * (`create_database_if_missing`). There is no update.
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { route, type Route } from '../http';
import { callerGuard } from './api';
import type { DatabricksAuth, Identity } from './auth';
import { alreadyExists, badRequest, invalidParameter, lakebaseError, notFound, requiredField, requiredMessage } from './errors';
import { generatedDatabaseId } from './databases';
import type { Lakebase } from './lakebase';
import type { BranchRecord, CatalogRecord, DatabaseRecord } from './model';
import { createDatabase } from './pgsql';
import { catalogBody, createQuery } from './schemas';

const params = z.object({ catalog: z.string() });

/** Unity Catalog names: letters, digits, `_` and `-`, at most 255 characters. */
const CATALOG_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,254}$/;

/** The branch a `projects/{p}/branches/{b}` name points at (404s as the parent chain goes). */
export async function branchByName(lakebase: Lakebase, name: string, field: string): Promise<BranchRecord> {
  const match = /^projects\/([^/]+)\/branches\/([^/]+)$/.exec(name);
  if (!match) throw invalidParameter(`Field '${field}' must be a branch name, projects/{project_id}/branches/{branch_id}, got '${name}'`);
  return lakebase.branch(match[1]!, match[2]!);
}

/**
 * Makes a database (record and Postgres) for a catalog or synced table that asked for one, owned
 * by the caller's role on the branch, else by the branch's first DATABRICKS_SUPERUSER member.
 */
export async function createMissingDatabase(lakebase: Lakebase, branch: BranchRecord, postgresDatabase: string, caller: Identity): Promise<DatabaseRecord> {
  const roles = await lakebase.store.all('role', branch.name);
  const owner = roles.find((r) => r.postgres_role === caller.id) ?? roles.find((r) => r.membership_roles.includes('DATABRICKS_SUPERUSER'));
  if (!owner) throw badRequest(`Branch '${branch.name}' has no role to own a new database '${postgresDatabase}'`);
  const id = await generatedDatabaseId(lakebase, branch, postgresDatabase);
  const now = lakebase.clock.now();
  const database: DatabaseRecord = { kind: 'database', name: `${branch.name}/databases/${id}`, parent: branch.name, id, createTime: now, updateTime: now, postgres_database: postgresDatabase, role: owner.name };
  await lakebase.withDatabase(branch, 'postgres', (client) => createDatabase(client, postgresDatabase, owner.postgres_role));
  await lakebase.store.put(database);
  return database;
}

export function catalogRoutes(auth: DatabricksAuth, lakebase: Lakebase): Route[] {
  const { store, ops, clock } = lakebase;
  const guard = callerGuard(auth, lakebase);

  return [
    route({
      method: 'POST',
      path: '/catalogs',
      guard,
      query: createQuery('catalog_id'),
      body: catalogBody,
      handler: (_ctx, { guard: caller, query, body }) =>
        lakebase.serialize(async () => {
          const id = query.id;
          if (!id) throw requiredField('catalog_id');
          if (!CATALOG_NAME.test(id)) throw invalidParameter(`Field catalog_id must match pattern ${CATALOG_NAME.source}, got '${id}'.`);
          const name = `catalogs/${id}`;
          if (await store.get('catalog', name)) throw alreadyExists('catalog');
          const spec = body?.spec;
          if (!spec || Object.values(spec).every((v) => v === undefined)) throw requiredMessage('catalog');
          if (!spec.postgres_database) throw requiredField('catalog.spec.postgres_database');
          if (!spec.branch) throw requiredField('catalog.spec.branch');
          const branch = await branchByName(lakebase, spec.branch, 'catalog.spec.branch');
          const database = (await store.all('database', branch.name)).find((d) => d.postgres_database === spec.postgres_database);
          if (!database && !spec.create_database_if_missing) {
            throw lakebaseError(404, 'NOT_FOUND', `database '${spec.postgres_database}' not found in branch '${branch.name}'; set spec.create_database_if_missing to create it`);
          }
          const registered = (await store.all('catalog')).find((c) => c.branch === branch.name && c.postgres_database === spec.postgres_database);
          if (registered) throw badRequest(`Database '${spec.postgres_database}' of branch '${branch.name}' is already registered as catalog '${registered.id}'; a database can be registered with one catalog only`);
          return ops.start({ kind: 'catalog', action: 'create', resource: name }, async () => {
            if (!database) await createMissingDatabase(lakebase, branch, spec.postgres_database!, caller);
            const now = clock.now();
            const catalog: CatalogRecord = {
              kind: 'catalog',
              name,
              id,
              uid: randomUUID(),
              createTime: now,
              updateTime: now,
              branch: branch.name,
              postgres_database: spec.postgres_database!,
              project: branch.parent,
            };
            await store.put(catalog);
            return lakebase.view(catalog);
          });
        }),
    }),
    route({
      method: 'GET',
      path: '/catalogs/:catalog',
      guard,
      params,
      async handler(_ctx, { params: { catalog } }) {
        const record = await store.get('catalog', `catalogs/${catalog}`);
        if (!record) throw notFound('catalog');
        return lakebase.view(record);
      },
    }),
    route({
      method: 'DELETE',
      path: '/catalogs/:catalog',
      guard,
      params,
      handler: (_ctx, { params: { catalog } }) =>
        lakebase.serialize(async () => {
          const record = await store.get('catalog', `catalogs/${catalog}`);
          if (!record) throw notFound('catalog');
          return ops.start({ kind: 'catalog', action: 'delete', resource: record.name }, async () => {
            await store.delete(record.name);
            return undefined;
          });
        }),
    }),
  ];
}
