/**
 * Branches (`/api/2.0/postgres/projects/{p}/branches`): a new branch is a copy of its source
 * branch's Postgres as it is now (the project's default branch unless `spec.source_branch` says
 * otherwise), with its own read-write endpoint `primary`, the source's roles and databases, and an
 * owner role for its creator. The root branch cannot be deleted alone, nor a protected or the
 * default one; deletes are soft unless `purge=true`.
 */
import * as z from 'zod';
import { route, type Route } from '../http';
import { callerGuard, page } from './api';
import type { DatabricksAuth } from './auth';
import { alreadyExists, badRequest, invalidParameter, lakebaseError, managedByParent, notFound } from './errors';
import { generatedUid, type Lakebase } from './lakebase';
import type { BranchRecord } from './model';
import { branchBody, createQuery, deleteQuery, listQuery, updateQuery, type BranchSpec } from './schemas';
import { maskedLeaves, requireId, type MaskRules } from './wire';

const parentParams = z.object({ project: z.string() });
const params = z.object({ project: z.string(), branch: z.string() });

export const BRANCH_MASK: MaskRules = {
  accepted: ['spec', 'spec.is_protected', 'spec.expiration'],
  leaves: ['spec.is_protected', 'spec.expiration'],
  virtual: { 'spec.expiration': ['ttl', 'expire_time', 'no_expiry'] },
};

/** The expiry a spec asks for: a time, `null` for none, `undefined` when it says nothing. */
function expiryOf(spec: BranchSpec, now: number): number | null | undefined {
  const given = [spec.ttl, spec.expire_time, spec.no_expiry].filter((v) => v !== undefined).length;
  if (given > 1) throw invalidParameter('Only one of spec.ttl, spec.expire_time and spec.no_expiry may be set');
  if (spec.no_expiry === false) throw invalidParameter('Field spec.no_expiry can only be true; to set an expiry use spec.ttl or spec.expire_time');
  if (spec.no_expiry === true) return null;
  if (spec.ttl !== undefined) return now + Math.round(spec.ttl * 1000);
  if (spec.expire_time !== undefined) {
    if (spec.expire_time <= now) throw invalidParameter(`Field spec.expire_time must be in the future, got '${new Date(spec.expire_time).toISOString()}'`);
    return spec.expire_time;
  }
  return undefined;
}

function applyExpiry(branch: BranchRecord, expiry: number | null | undefined): void {
  if (expiry === null) delete branch.expireTime;
  else if (expiry !== undefined) branch.expireTime = expiry;
}

export function branchRoutes(auth: DatabricksAuth, lakebase: Lakebase): Route[] {
  const { store, ops, clock, clusters } = lakebase;
  const guard = callerGuard(auth, lakebase);
  const nameOf = (projectId: string, branchId: string) => `projects/${projectId}/branches/${branchId}`;

  /** The source named by `spec.source_branch` (a name or an id), else the project's default branch. */
  async function sourceOf(projectId: string, defaultBranch: string, spec: BranchSpec): Promise<BranchRecord> {
    const wanted = spec.source_branch === undefined ? defaultBranch : spec.source_branch.includes('/') ? spec.source_branch : nameOf(projectId, spec.source_branch);
    const source = await store.get('branch', wanted);
    if (!source || source.parent !== `projects/${projectId}` || source.deleteTime !== undefined) throw notFound('branch');
    return source;
  }

  function checkImmutable(branch: BranchRecord, spec: BranchSpec): void {
    if (spec.source_branch !== undefined && spec.source_branch !== branch.source?.branch && spec.source_branch !== branch.source?.branch.split('/').pop()) {
      throw invalidParameter("Field 'spec.source_branch' cannot be changed; create a new branch instead");
    }
  }

  return [
    route({
      method: 'POST',
      path: '/projects/:project/branches',
      guard,
      params: parentParams,
      query: createQuery('branch_id'),
      body: branchBody,
      handler: (_ctx, { guard: caller, params: { project: projectId }, query, body }) =>
        lakebase.serialize(async () => {
          const project = await lakebase.project(projectId);
          const id = requireId('branch', query.id);
          const name = nameOf(projectId, id);
          const spec = body?.spec ?? {};
          const now = clock.now();
          const expiry = expiryOf(spec, now);
          const existing = await store.get('branch', name);
          if (existing) {
            if (!query.replace_existing || existing.deleteTime !== undefined) throw alreadyExists('branch');
            // replace_existing: the existing branch (say, the root branch) is adopted and updated in place.
            checkImmutable(existing, spec);
            return ops.start({ kind: 'branch', action: 'create', resource: name, branch: name }, async () => {
              const updated: BranchRecord = { ...existing, updateTime: clock.now() };
              if (spec.is_protected !== undefined) updated.is_protected = spec.is_protected;
              applyExpiry(updated, expiry);
              await store.put(updated);
              return lakebase.view(updated);
            });
          }
          if (spec.source_snapshot !== undefined) throw lakebaseError(501, 'NOT_IMPLEMENTED', 'The sandbox cannot branch from a snapshot (spec.source_snapshot)');
          const source = await sourceOf(projectId, project.default_branch, spec);
          return ops.start({ kind: 'branch', action: 'create', resource: name, branch: name }, async () => {
            const uid = generatedUid('br');
            const lsn = await clusters.createChild(source.cluster, uid);
            const creating = ops.busy('branch');
            const created = clock.now();
            const branch: BranchRecord = {
              kind: 'branch',
              name,
              parent: project.name,
              id,
              uid,
              cluster: uid,
              root: false,
              isDefault: false,
              is_protected: spec.is_protected ?? false,
              // Point-in-time branching is not emulated: the copy is of the source as it is now.
              source: { branch: source.name, lsn, time: spec.source_branch_time ?? created },
              creating,
              stateChangeTime: created,
              createTime: created,
              updateTime: created,
            };
            applyExpiry(branch, expiry);
            try {
              await store.put(branch);
              await lakebase.createImplicitChildren(branch, caller, source);
              await lakebase.createPrimaryEndpoint(project, branch, creating);
            } catch (error) {
              await lakebase.purgeBranch(branch).catch(() => undefined);
              throw error;
            }
            return lakebase.view(branch);
          });
        }),
    }),
    route({
      method: 'GET',
      path: '/projects/:project/branches',
      guard,
      params: parentParams,
      query: listQuery,
      async handler(_ctx, { params: { project: projectId }, query }) {
        const project = await lakebase.project(projectId);
        const all = (await store.list('branch', project.name)).filter((s) => query.show_deleted || s.record.deleteTime === undefined);
        const { items, next_page_token } = page(all, query.page_size, query.page_token);
        return { branches: await Promise.all(items.map((b) => lakebase.view(b))), ...(next_page_token ? { next_page_token } : {}) };
      },
    }),
    route({
      method: 'GET',
      path: '/projects/:project/branches/:branch',
      guard,
      params,
      async handler(_ctx, { params: { project, branch } }) {
        return lakebase.view(await lakebase.branch(project, branch, 'allow'));
      },
    }),
    route({
      method: 'PATCH',
      path: '/projects/:project/branches/:branch',
      guard,
      params,
      query: updateQuery,
      body: branchBody,
      handler: (_ctx, { params: { project, branch: branchId }, query, body }) =>
        lakebase.serialize(async () => {
          const branch = await lakebase.branch(project, branchId);
          const spec = body?.spec ?? {};
          const leaves = maskedLeaves(query.update_mask, body ?? {}, BRANCH_MASK);
          checkImmutable(branch, spec);
          const now = clock.now();
          const updated: BranchRecord = { ...branch, updateTime: now };
          if (leaves.includes('spec.is_protected')) updated.is_protected = spec.is_protected!;
          if (leaves.includes('spec.expiration')) applyExpiry(updated, expiryOf(spec, now));
          return ops.start({ kind: 'branch', action: 'update', resource: branch.name, branch: branch.name }, async () => {
            await store.put(updated);
            return lakebase.view(updated);
          });
        }),
    }),
    route({
      method: 'DELETE',
      path: '/projects/:project/branches/:branch',
      guard,
      params,
      query: deleteQuery,
      handler: (_ctx, { params: { project: projectId, branch: branchId }, query }) =>
        lakebase.serialize(async () => {
          await lakebase.project(projectId);
          const name = nameOf(projectId, branchId);
          const branch = await store.get('branch', name);
          const gone = !branch || (branch.deleteTime !== undefined && !query.purge);
          if (gone) {
            if (!query.allow_missing) throw notFound('branch');
            return ops.start({ kind: 'branch', action: 'delete', resource: name }, async () => undefined);
          }
          if (branch.root) throw managedByParent(`Cannot delete root branch '${name}'. Root branches cannot be deleted independently.`);
          if (branch.is_protected) throw badRequest('cannot delete protected branch');
          if (branch.isDefault) throw badRequest(`Cannot delete branch '${name}': it is the project's default branch. Make another branch the default first.`);
          return ops.start({ kind: 'branch', action: 'delete', resource: name, branch: name }, async () => {
            if (query.purge) await lakebase.purgeBranch(branch);
            else await lakebase.softDeleteBranch(branch, clock.now());
            return undefined;
          });
        }),
    }),
    route({
      method: 'POST',
      path: '/projects/:project/branches/:branch/undelete',
      guard,
      params,
      handler: (_ctx, { params: { project, branch: branchId } }) =>
        lakebase.serialize(async () => {
          const branch = await lakebase.branch(project, branchId, 'allow');
          if (branch.deleteTime === undefined) throw badRequest(`Branch '${branch.name}' is not deleted`);
          return ops.start({ kind: 'branch', action: 'undelete', resource: branch.name, branch: branch.name }, async () => {
            const { deleteTime: _deleted, purgeTime: _purge, ...rest } = branch;
            const now = clock.now();
            const restored: BranchRecord = { ...rest, stateChangeTime: now, updateTime: now };
            // An expiry that has passed would delete it again at once.
            if (restored.expireTime !== undefined && restored.expireTime <= now) delete restored.expireTime;
            await store.put(restored);
            await lakebase.openProxiesOf(restored);
            return lakebase.view(restored);
          });
        }),
    }),
  ];
}
