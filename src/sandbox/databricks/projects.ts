/**
 * Projects (`/api/2.0/postgres/projects`): a new one comes with its root branch `production`
 * (the default branch), that branch's read-write endpoint `primary`, the creator's owner role and
 * the `databricks_postgres` database. Deletes are soft (restorable with undelete until the purge
 * time) unless `purge=true`.
 */
import * as z from 'zod';
import { LAKEBASE_LIMITS, LAKEBASE_ROOT_BRANCH } from '../../services/databricks';
import { route, type Route } from '../http';
import { callerGuard, checkComputeSettings, mergeComputeSettings, page } from './api';
import type { DatabricksAuth } from './auth';
import { alreadyExists, badRequest, invalidParameter, notFound } from './errors';
import { generatedUid, Lakebase } from './lakebase';
import type { BranchRecord, ProjectRecord } from './model';
import { createQuery, deleteQuery, listQuery, projectBody, updateQuery, type ProjectBody } from './schemas';
import { maskedLeaves, requireId, type MaskRules } from './wire';

const params = z.object({ project: z.string() });

export const PROJECT_MASK: MaskRules = {
  accepted: [
    'spec',
    'initial_branch_spec',
    'initial_endpoint_spec',
    'spec.budget_policy_id',
    'spec.custom_tags',
    'spec.default_branch',
    'spec.default_endpoint_settings',
    'spec.default_endpoint_settings.autoscaling_limit_max_cu',
    'spec.default_endpoint_settings.autoscaling_limit_min_cu',
    'spec.default_endpoint_settings.pg_settings',
    'spec.default_endpoint_settings.suspension',
    'spec.display_name',
    'spec.enable_pg_native_login',
    'spec.history_retention_duration',
  ],
  leaves: [
    'spec.display_name',
    'spec.history_retention_duration',
    'spec.default_endpoint_settings.autoscaling_limit_min_cu',
    'spec.default_endpoint_settings.autoscaling_limit_max_cu',
    'spec.default_endpoint_settings.suspension',
    'spec.default_endpoint_settings.pg_settings',
    'spec.budget_policy_id',
    'spec.custom_tags',
    'spec.enable_pg_native_login',
    'spec.default_branch',
  ],
  virtual: { 'spec.default_endpoint_settings.suspension': ['suspend_timeout_duration', 'no_suspension'] },
  aliases: { 'spec.project_default_settings.suspension': 'spec.default_endpoint_settings.suspension' },
};

export function projectRoutes(auth: DatabricksAuth, lakebase: Lakebase): Route[] {
  const { store, ops, clock, clusters } = lakebase;
  const guard = callerGuard(auth, lakebase);

  return [
    route({
      method: 'POST',
      path: '/projects',
      guard,
      query: createQuery('project_id'),
      body: projectBody,
      handler: (_ctx, { guard: caller, query, body }) =>
        lakebase.serialize(async () => {
          const id = requireId('project', query.id);
          const name = `projects/${id}`;
          if (await store.get('project', name)) throw alreadyExists('project', ' in the workspace');
          const spec = body?.spec ?? {};
          const now = clock.now();
          const settings = mergeComputeSettings(Lakebase.defaultComputeSettings(), spec.default_endpoint_settings, 'spec.default_endpoint_settings', { maxSpread: true });
          const root = Lakebase.rootBranchName(name);
          if (spec.default_branch !== undefined && spec.default_branch !== root) {
            throw invalidParameter(`Field 'spec.default_branch' of a new project can only be its root branch '${root}'`);
          }
          const project: ProjectRecord = {
            kind: 'project',
            name,
            id,
            uid: Lakebase.newUid(),
            createTime: now,
            updateTime: now,
            owner: caller.id,
            display_name: spec.display_name ?? id,
            pg_version: spec.pg_version ?? 17,
            history_retention_seconds: spec.history_retention_duration ?? 604_800,
            default_endpoint_settings: settings,
            ...(spec.budget_policy_id !== undefined ? { budget_policy_id: spec.budget_policy_id } : {}),
            ...(spec.custom_tags !== undefined ? { custom_tags: spec.custom_tags } : {}),
            ...(spec.compute_provisioner !== undefined ? { compute_provisioner: spec.compute_provisioner } : {}),
            enable_pg_native_login: spec.enable_pg_native_login ?? false,
            default_branch: root,
          };
          const initialEndpoint = initialEndpointSettings(project, body);
          return ops.start({ kind: 'project', action: 'create', resource: name, branch: root }, async () => {
            const creating = ops.busy('project');
            const uid = generatedUid('br');
            const branch: BranchRecord = {
              kind: 'branch',
              name: root,
              parent: name,
              id: LAKEBASE_ROOT_BRANCH,
              uid,
              cluster: uid,
              root: true,
              isDefault: true,
              is_protected: body?.initial_branch_spec?.is_protected ?? false,
              creating,
              stateChangeTime: now,
              createTime: now,
              updateTime: now,
            };
            await clusters.createRoot(branch.cluster);
            try {
              await store.put(project);
              await store.put(branch);
              await lakebase.createImplicitChildren(branch, caller, undefined, body?.initial_database_spec?.postgres_database);
              await lakebase.createPrimaryEndpoint(project, branch, creating, initialEndpoint);
            } catch (error) {
              await lakebase.purgeProject(project).catch(() => undefined);
              throw error;
            }
            return lakebase.view(project);
          });
        }),
    }),
    route({
      method: 'GET',
      path: '/projects',
      guard,
      query: listQuery,
      async handler(_ctx, { query }) {
        const all = (await store.list('project')).filter((s) => query.show_deleted || s.record.deleteTime === undefined);
        const { items, next_page_token } = page(all, Math.min(query.page_size, LAKEBASE_LIMITS.maxProjectPageSize), query.page_token);
        return { projects: await Promise.all(items.map((p) => lakebase.view(p))), ...(next_page_token ? { next_page_token } : {}) };
      },
    }),
    route({
      method: 'GET',
      path: '/projects/:project',
      guard,
      params,
      async handler(_ctx, { params: { project } }) {
        return lakebase.view(await lakebase.project(project, 'allow'));
      },
    }),
    route({
      method: 'PATCH',
      path: '/projects/:project',
      guard,
      params,
      query: updateQuery,
      body: projectBody,
      handler: (_ctx, { params: { project: projectId }, query, body }) =>
        lakebase.serialize(async () => {
          const project = await lakebase.project(projectId);
          const spec = body?.spec ?? {};
          let leaves = maskedLeaves(query.update_mask, body ?? {}, PROJECT_MASK);
          // `*` leaves tags alone when the body's list is empty; naming the path clears them.
          const paths = (query.update_mask ?? '').split(',').map((p) => p.trim());
          if (paths.includes('*') && !paths.includes('spec.custom_tags') && spec.custom_tags?.length === 0) leaves = leaves.filter((l) => l !== 'spec.custom_tags');
          if (spec.pg_version !== undefined && spec.pg_version !== project.pg_version) throw invalidParameter("Field 'spec.pg_version' cannot be changed; create a new project for another Postgres version");
          const updated: ProjectRecord = { ...project, default_endpoint_settings: { ...project.default_endpoint_settings } };
          let newDefault: BranchRecord | undefined;
          const settings = spec.default_endpoint_settings;
          for (const leaf of leaves) {
            switch (leaf) {
              case 'spec.display_name':
                updated.display_name = spec.display_name!;
                break;
              case 'spec.history_retention_duration':
                updated.history_retention_seconds = spec.history_retention_duration!;
                break;
              case 'spec.default_endpoint_settings.autoscaling_limit_min_cu':
                updated.default_endpoint_settings.min_cu = settings!.autoscaling_limit_min_cu!;
                break;
              case 'spec.default_endpoint_settings.autoscaling_limit_max_cu':
                updated.default_endpoint_settings.max_cu = settings!.autoscaling_limit_max_cu!;
                break;
              case 'spec.default_endpoint_settings.suspension':
                updated.default_endpoint_settings = mergeComputeSettings(
                  updated.default_endpoint_settings,
                  { suspend_timeout_duration: settings!.suspend_timeout_duration, no_suspension: settings!.no_suspension },
                  'spec.default_endpoint_settings',
                  { maxSpread: false },
                );
                break;
              case 'spec.default_endpoint_settings.pg_settings':
                updated.default_endpoint_settings.pg_settings = settings!.pg_settings!;
                break;
              case 'spec.budget_policy_id':
                updated.budget_policy_id = spec.budget_policy_id!;
                break;
              case 'spec.custom_tags':
                updated.custom_tags = spec.custom_tags!;
                break;
              case 'spec.enable_pg_native_login':
                updated.enable_pg_native_login = spec.enable_pg_native_login!;
                break;
              case 'spec.default_branch': {
                const target = spec.default_branch!.includes('/') ? spec.default_branch! : `${project.name}/branches/${spec.default_branch}`;
                const branch = await store.get('branch', target);
                if (!branch || branch.parent !== project.name || branch.deleteTime !== undefined) throw notFound('branch');
                if (target !== project.default_branch) newDefault = branch;
                updated.default_branch = target;
                break;
              }
            }
          }
          checkComputeSettings(updated.default_endpoint_settings, 'spec.default_endpoint_settings', { maxSpread: true });
          return ops.start({ kind: 'project', action: 'update', resource: project.name }, async () => {
            const now = clock.now();
            updated.updateTime = now;
            if (newDefault) {
              const old = await store.get('branch', project.default_branch);
              if (old) await store.put({ ...old, isDefault: false, updateTime: now });
              await store.put({ ...newDefault, isDefault: true, updateTime: now });
            }
            await store.put(updated);
            return lakebase.view(updated);
          });
        }),
    }),
    route({
      method: 'DELETE',
      path: '/projects/:project',
      guard,
      params,
      query: deleteQuery,
      handler: (_ctx, { params: { project: projectId }, query }) =>
        lakebase.serialize(async () => {
          const project = await lakebase.project(projectId, 'allow');
          if (project.deleteTime !== undefined && !query.purge) throw notFound('project');
          const branches = await store.all('branch', project.name);
          const protectedBranch = branches.find((b) => b.is_protected && b.deleteTime === undefined);
          if (protectedBranch) throw badRequest(`Cannot delete project '${project.name}': branch '${protectedBranch.name}' is protected. Unprotect it first.`);
          return ops.start({ kind: 'project', action: 'delete', resource: project.name }, async () => {
            if (query.purge) {
              await lakebase.purgeProject(project);
              return undefined;
            }
            const now = clock.now();
            await lakebase.closeProxiesBelow(project.name);
            for (const branch of branches) await clusters.stop(branch.cluster);
            await store.put({ ...project, deleteTime: now, purgeTime: now + lakebase.options.softDeleteRetentionMs, updateTime: now });
            return undefined;
          });
        }),
    }),
    route({
      method: 'POST',
      path: '/projects/:project/undelete',
      guard,
      params,
      handler: (_ctx, { params: { project: projectId } }) =>
        lakebase.serialize(async () => {
          const project = await lakebase.project(projectId, 'allow');
          if (project.deleteTime === undefined) throw badRequest(`Project '${project.name}' is not deleted`);
          return ops.start({ kind: 'project', action: 'undelete', resource: project.name }, async () => {
            const { deleteTime: _deleted, purgeTime: _purge, ...rest } = project;
            const restored: ProjectRecord = { ...rest, updateTime: clock.now() };
            await store.put(restored);
            for (const branch of await store.all('branch', project.name)) {
              if (branch.deleteTime === undefined) await lakebase.openProxiesOf(branch);
            }
            return lakebase.view(restored);
          });
        }),
    }),
  ];
}

/** The root endpoint's settings: the project's defaults, with `initial_endpoint_spec` over them. */
function initialEndpointSettings(project: ProjectRecord, body: ProjectBody | undefined) {
  const initial = body?.initial_endpoint_spec;
  if (!initial) return undefined;
  const settings = mergeComputeSettings(project.default_endpoint_settings, initial, 'initial_endpoint_spec', { maxSpread: true });
  if (initial.group && initial.group.min !== initial.group.max) throw invalidParameter("Field 'initial_endpoint_spec.group': min must equal max");
  return { ...settings, ...(initial.group ? { group: initial.group } : {}) };
}
