/**
 * Roles (`…/branches/{b}/roles`): real Postgres roles in the branch's cluster. Only attributes and
 * membership can change (`update_mask` paths `spec.attributes[.<leaf>]`, `spec.membership_roles`);
 * the Postgres name, auth method and identity type are fixed at create. A duplicate is a 400, not a
 * 409, as on the real service.
 */
import * as z from 'zod';
import { route, type Route } from '../http';
import { callerGuard, page } from './api';
import type { DatabricksAuth } from './auth';
import { badRequest, invalidParameter, nameTaken, notFound, requiredField, requiredMessage } from './errors';
import type { Lakebase } from './lakebase';
import type { BranchRecord, RoleRecord } from './model';
import { applyRole, dropRole } from './pgsql';
import { createQuery, deleteQuery, listQuery, roleBody, updateQuery, type RoleSpec } from './schemas';
import { checkId, maskedLeaves, randomSuffix, slug, type MaskRules } from './wire';

const parentParams = z.object({ project: z.string(), branch: z.string() });
const params = z.object({ project: z.string(), branch: z.string(), role: z.string() });

export const ROLE_MASK: MaskRules = {
  accepted: ['spec.attributes', 'spec.attributes.createdb', 'spec.attributes.createrole', 'spec.attributes.bypassrls', 'spec.membership_roles'],
  leaves: ['spec.attributes.createdb', 'spec.attributes.createrole', 'spec.attributes.bypassrls', 'spec.membership_roles'],
};

/** A role record from a create's spec (the caller checked `postgres_role`). */
function roleFrom(branch: BranchRecord, id: string, spec: RoleSpec, now: number): RoleRecord {
  const managed = spec.identity_type !== undefined;
  return {
    kind: 'role',
    name: `${branch.name}/roles/${id}`,
    parent: branch.name,
    id,
    createTime: now,
    updateTime: now,
    postgres_role: spec.postgres_role!,
    ...(spec.identity_type ? { identity_type: spec.identity_type } : {}),
    // Managed identities log in with OAuth tokens; plain roles with a password.
    auth_method: spec.auth_method ?? (managed ? 'LAKEBASE_OAUTH_V1' : 'PG_PASSWORD_SCRAM_SHA_256'),
    membership_roles: [...new Set(spec.membership_roles ?? [])],
    attributes: { createdb: spec.attributes?.createdb ?? false, createrole: spec.attributes?.createrole ?? false, bypassrls: spec.attributes?.bypassrls ?? false },
  };
}

export function roleRoutes(auth: DatabricksAuth, lakebase: Lakebase): Route[] {
  const { store, ops, clock } = lakebase;
  const guard = callerGuard(auth, lakebase);

  /** A role id the server picks: from the Postgres name when it makes a valid, free one. */
  async function generatedId(branch: BranchRecord, postgresRole: string): Promise<string> {
    const fromName = slug(postgresRole, 4);
    if (fromName && !(await store.get('role', `${branch.name}/roles/${fromName}`))) return fromName;
    return `role-${randomSuffix(8)}`;
  }

  return [
    route({
      method: 'POST',
      path: '/projects/:project/branches/:branch/roles',
      guard,
      params: parentParams,
      query: createQuery('role_id'),
      body: roleBody,
      handler: (_ctx, { params: p, query, body }) =>
        lakebase.serialize(async () => {
          const branch = await lakebase.branch(p.project, p.branch);
          const spec = body?.spec;
          if (!spec || Object.values(spec).every((v) => v === undefined)) throw requiredMessage('role');
          if (!spec.postgres_role) throw requiredField('role.spec.postgres_role');
          const requested = query.id ? checkId('role', query.id) : undefined;
          const id = requested ?? (await generatedId(branch, spec.postgres_role));
          const name = `${branch.name}/roles/${id}`;
          const existing = await store.get('role', name);
          if (existing && !query.replace_existing) throw nameTaken('role');
          if (existing && existing.postgres_role !== spec.postgres_role) {
            throw invalidParameter(`Field 'spec.postgres_role' cannot be changed (the role is '${existing.postgres_role}'); create another role instead`);
          }
          const sameName = (await store.all('role', branch.name)).find((r) => r.postgres_role === spec.postgres_role && r.name !== name);
          if (sameName) throw nameTaken('role');
          await ops.assertBranchIdle(branch.name);
          return ops.start({ kind: 'role', action: 'create', resource: name, branch: branch.name }, async () => {
            const now = clock.now();
            const role = existing ? { ...roleFrom(branch, id, spec, now), createTime: existing.createTime } : roleFrom(branch, id, spec, now);
            await lakebase.withDatabase(branch, 'postgres', (client) => applyRole(client, role));
            await store.put(role);
            return lakebase.view(role);
          });
        }),
    }),
    route({
      method: 'GET',
      path: '/projects/:project/branches/:branch/roles',
      guard,
      params: parentParams,
      query: listQuery,
      async handler(_ctx, { params: p, query }) {
        const branch = await lakebase.branch(p.project, p.branch);
        const { items, next_page_token } = page(await store.list('role', branch.name), query.page_size, query.page_token);
        return { roles: await Promise.all(items.map((r) => lakebase.view(r))), ...(next_page_token ? { next_page_token } : {}) };
      },
    }),
    route({
      method: 'GET',
      path: '/projects/:project/branches/:branch/roles/:role',
      guard,
      params,
      async handler(_ctx, { params: p }) {
        return lakebase.view((await lakebase.child('role', p.project, p.branch, p.role)).record);
      },
    }),
    route({
      method: 'PATCH',
      path: '/projects/:project/branches/:branch/roles/:role',
      guard,
      params,
      query: updateQuery,
      body: roleBody,
      handler: (_ctx, { params: p, query, body }) =>
        lakebase.serialize(async () => {
          const { branch, record } = await lakebase.child('role', p.project, p.branch, p.role);
          const spec = body?.spec ?? {};
          const leaves = maskedLeaves(query.update_mask, body ?? {}, ROLE_MASK);
          const updated: RoleRecord = { ...record, attributes: { ...record.attributes }, updateTime: clock.now() };
          for (const leaf of leaves) {
            if (leaf === 'spec.membership_roles') updated.membership_roles = [...new Set(spec.membership_roles!)];
            else {
              const key = leaf.slice('spec.attributes.'.length) as keyof RoleRecord['attributes'];
              updated.attributes[key] = spec.attributes![key]!;
            }
          }
          await ops.assertBranchIdle(branch.name);
          return ops.start({ kind: 'role', action: 'update', resource: record.name, branch: branch.name }, async () => {
            await lakebase.withDatabase(branch, 'postgres', (client) => applyRole(client, updated));
            await store.put(updated);
            return lakebase.view(updated);
          });
        }),
    }),
    route({
      method: 'DELETE',
      path: '/projects/:project/branches/:branch/roles/:role',
      guard,
      params,
      query: deleteQuery,
      handler: (_ctx, { params: p, query }) =>
        lakebase.serialize(async () => {
          const { branch, record } = await lakebase.child('role', p.project, p.branch, p.role);
          // reassign_owned_to names a role of the branch: its resource name, its id or its Postgres name.
          let heir: RoleRecord | undefined;
          if (query.reassign_owned_to) {
            const wanted = query.reassign_owned_to;
            const roles = await store.all('role', branch.name);
            heir = roles.find((r) => r.name === wanted || r.id === wanted || r.postgres_role === wanted);
            if (!heir) throw notFound('role');
            if (heir.name === record.name) throw invalidParameter('reassign_owned_to must name another role');
          }
          const owned = (await store.all('database', branch.name)).filter((d) => d.role === record.name);
          if (owned.length > 0 && !heir) {
            throw badRequest(`role "${record.postgres_role}" cannot be dropped because it owns database(s) ${owned.map((d) => `"${d.postgres_database}"`).join(', ')}; pass reassign_owned_to`);
          }
          await ops.assertBranchIdle(branch.name);
          return ops.start({ kind: 'role', action: 'delete', resource: record.name, branch: branch.name }, async () => {
            await dropRole((database, fn) => lakebase.withDatabase(branch, database, fn), record.postgres_role, heir?.postgres_role);
            const now = clock.now();
            for (const database of owned) await store.put({ ...database, role: heir!.name, updateTime: now });
            await store.delete(record.name);
            return undefined;
          });
        }),
    }),
  ];
}
