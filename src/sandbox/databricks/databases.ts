/**
 * Databases (`…/branches/{b}/databases`): real databases in the branch's cluster, owned by one of
 * the branch's roles. Updating `spec.postgres_database` renames the database, `spec.role` changes
 * its owner. A duplicate is a 400, not a 409, as on the real service.
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { route, type Route } from '../http';
import { callerGuard, page } from './api';
import type { DatabricksAuth } from './auth';
import { lakebaseError, nameTaken, requiredField, requiredMessage } from './errors';
import type { Lakebase } from './lakebase';
import type { BranchRecord, DatabaseRecord, RoleRecord } from './model';
import { createDatabase, databaseExists, dropDatabase, renameDatabase, setDatabaseOwner } from './pgsql';
import { createQuery, databaseBody, deleteQuery, listQuery, updateQuery } from './schemas';
import { checkId, maskedLeaves, randomSuffix, slug, type MaskRules } from './wire';

const parentParams = z.object({ project: z.string(), branch: z.string() });
const params = z.object({ project: z.string(), branch: z.string(), database: z.string() });

export const DATABASE_MASK: MaskRules = {
  accepted: ['spec', 'spec.role', 'spec.postgres_database'],
  leaves: ['spec.postgres_database', 'spec.role'],
};

/** A role of the branch by resource name (or, leniently, by id); 404 in the service's words otherwise. */
export async function ownerRole(lakebase: Lakebase, branch: BranchRecord, role: string): Promise<RoleRecord> {
  const id = role.startsWith(`${branch.name}/roles/`) ? role.slice(`${branch.name}/roles/`.length) : role.includes('/') ? undefined : role;
  const found = id === undefined ? undefined : await lakebase.store.get('role', `${branch.name}/roles/${id}`);
  if (!found) throw lakebaseError(404, 'NOT_FOUND', `role not found; role_id:"${id ?? role}" [TraceId: ${randomUUID()}]`);
  return found;
}

/** A database id the server picks: from the Postgres name when it makes a valid, free one. */
export async function generatedDatabaseId(lakebase: Lakebase, branch: BranchRecord, postgresDatabase: string): Promise<string> {
  const fromName = slug(postgresDatabase, 4);
  if (fromName && !(await lakebase.store.get('database', `${branch.name}/databases/${fromName}`))) return fromName;
  return `db-${randomSuffix(4)}-${randomSuffix(8)}`;
}

export function databaseRoutes(auth: DatabricksAuth, lakebase: Lakebase): Route[] {
  const { store, ops, clock } = lakebase;
  const guard = callerGuard(auth, lakebase);

  /** Whether another database of the branch has the name; one made in SQL, outside the API, counts too. */
  async function nameInUse(branch: BranchRecord, postgresDatabase: string, self: DatabaseRecord | undefined): Promise<boolean> {
    if (self?.postgres_database === postgresDatabase) return false;
    if ((await store.all('database', branch.name)).some((d) => d.postgres_database === postgresDatabase)) return true;
    return lakebase.withDatabase(branch, 'postgres', (client) => databaseExists(client, postgresDatabase));
  }

  return [
    route({
      method: 'POST',
      path: '/projects/:project/branches/:branch/databases',
      guard,
      params: parentParams,
      query: createQuery('database_id'),
      body: databaseBody,
      handler: (_ctx, { params: p, query, body }) =>
        lakebase.serialize(async () => {
          const branch = await lakebase.branch(p.project, p.branch);
          const spec = body?.spec;
          if (!spec || Object.values(spec).every((v) => v === undefined)) throw requiredMessage('database');
          if (!spec.role) throw requiredField('database.spec.role');
          if (!spec.postgres_database) throw requiredField('database.spec.postgres_database');
          const requested = query.id ? checkId('database', query.id) : undefined;
          const id = requested ?? (await generatedDatabaseId(lakebase, branch, spec.postgres_database));
          const name = `${branch.name}/databases/${id}`;
          const existing = await store.get('database', name);
          if (existing && !query.replace_existing) throw nameTaken('database');
          const role = await ownerRole(lakebase, branch, spec.role);
          if (await nameInUse(branch, spec.postgres_database, existing)) throw nameTaken('database');
          await ops.assertBranchIdle(branch.name);
          return ops.start({ kind: 'database', action: 'create', resource: name, branch: branch.name }, async () => {
            const now = clock.now();
            const database: DatabaseRecord = {
              kind: 'database',
              name,
              parent: branch.name,
              id,
              createTime: existing?.createTime ?? now,
              updateTime: now,
              postgres_database: spec.postgres_database!,
              role: role.name,
            };
            await lakebase.withDatabase(branch, 'postgres', async (client) => {
              if (!existing) await createDatabase(client, database.postgres_database, role.postgres_role);
              else if (existing.postgres_database !== database.postgres_database) await renameDatabase(client, existing.postgres_database, database.postgres_database);
            });
            if (existing) await lakebase.withDatabase(branch, database.postgres_database, (client) => setDatabaseOwner(client, database.postgres_database, role.postgres_role));
            await store.put(database);
            return lakebase.view(database);
          });
        }),
    }),
    route({
      method: 'GET',
      path: '/projects/:project/branches/:branch/databases',
      guard,
      params: parentParams,
      query: listQuery,
      async handler(_ctx, { params: p, query }) {
        const branch = await lakebase.branch(p.project, p.branch);
        const { items, next_page_token } = page(await store.list('database', branch.name), query.page_size, query.page_token);
        return { databases: await Promise.all(items.map((d) => lakebase.view(d))), ...(next_page_token ? { next_page_token } : {}) };
      },
    }),
    route({
      method: 'GET',
      path: '/projects/:project/branches/:branch/databases/:database',
      guard,
      params,
      async handler(_ctx, { params: p }) {
        return lakebase.view((await lakebase.child('database', p.project, p.branch, p.database)).record);
      },
    }),
    route({
      method: 'PATCH',
      path: '/projects/:project/branches/:branch/databases/:database',
      guard,
      params,
      query: updateQuery,
      body: databaseBody,
      handler: (_ctx, { params: p, query, body }) =>
        lakebase.serialize(async () => {
          const { branch, record } = await lakebase.child('database', p.project, p.branch, p.database);
          const spec = body?.spec ?? {};
          const leaves = maskedLeaves(query.update_mask, body ?? {}, DATABASE_MASK);
          const rename = leaves.includes('spec.postgres_database') && spec.postgres_database !== record.postgres_database ? spec.postgres_database! : undefined;
          if (leaves.includes('spec.role') && spec.role === '') throw requiredField('database.spec.role');
          const owner = leaves.includes('spec.role') ? await ownerRole(lakebase, branch, spec.role!) : undefined;
          if (rename !== undefined && (await nameInUse(branch, rename, record))) throw nameTaken('database');
          await ops.assertBranchIdle(branch.name);
          return ops.start({ kind: 'database', action: 'update', resource: record.name, branch: branch.name }, async () => {
            const updated: DatabaseRecord = { ...record, updateTime: clock.now() };
            if (rename !== undefined) {
              await lakebase.withDatabase(branch, 'postgres', (client) => renameDatabase(client, record.postgres_database, rename));
              updated.postgres_database = rename;
            }
            if (owner && owner.name !== record.role) {
              await lakebase.withDatabase(branch, updated.postgres_database, (client) => setDatabaseOwner(client, updated.postgres_database, owner.postgres_role));
              updated.role = owner.name;
            }
            await store.put(updated);
            return lakebase.view(updated);
          });
        }),
    }),
    route({
      method: 'DELETE',
      path: '/projects/:project/branches/:branch/databases/:database',
      guard,
      params,
      query: deleteQuery,
      handler: (_ctx, { params: p }) =>
        lakebase.serialize(async () => {
          const { branch, record } = await lakebase.child('database', p.project, p.branch, p.database);
          await ops.assertBranchIdle(branch.name);
          return ops.start({ kind: 'database', action: 'delete', resource: record.name, branch: branch.name }, async () => {
            await lakebase.withDatabase(branch, 'postgres', (client) => dropDatabase(client, record.postgres_database));
            await store.delete(record.name);
            return undefined;
          });
        }),
    }),
  ];
}
