/**
 * Endpoints (`…/branches/{b}/endpoints`): each is a proxy on a loopback address of its own, port
 * 5432, in front of the branch's Postgres. At most one read-write endpoint per branch (the implicit
 * `primary`, which goes only with its branch); read-only endpoints open read-only sessions. A
 * disabled endpoint refuses connections.
 */
import * as z from 'zod';
import { route, type Route } from '../http';
import { callerGuard, checkComputeSettings, mergeComputeSettings, page } from './api';
import type { DatabricksAuth } from './auth';
import { alreadyExists, badRequest, invalidParameter, lakebaseError, managedByParent, requiredField } from './errors';
import type { Lakebase } from './lakebase';
import type { BranchRecord, EndpointRecord } from './model';
import { createQuery, deleteQuery, endpointBody, listQuery, updateQuery, type EndpointSpec } from './schemas';
import { maskedLeaves, requireId, type MaskRules } from './wire';

const parentParams = z.object({ project: z.string(), branch: z.string() });
const params = z.object({ project: z.string(), branch: z.string(), endpoint: z.string() });

export const ENDPOINT_MASK: MaskRules = {
  accepted: [
    'spec',
    'spec.autoscaling_limit_max_cu',
    'spec.autoscaling_limit_min_cu',
    'spec.disabled',
    'spec.group.enable_readable_secondaries',
    'spec.group.max',
    'spec.group.min',
    'spec.settings.pg_settings',
    'spec.suspension',
  ],
  leaves: [
    'spec.autoscaling_limit_min_cu',
    'spec.autoscaling_limit_max_cu',
    'spec.suspension',
    'spec.disabled',
    'spec.settings.pg_settings',
    'spec.group.min',
    'spec.group.max',
    'spec.group.enable_readable_secondaries',
  ],
  virtual: { 'spec.suspension': ['suspend_timeout_duration', 'no_suspension'] },
};

function checkGroup(group: EndpointRecord['group'], field: string): void {
  if (group && group.min !== group.max) throw invalidParameter(`Field '${field}': min (${group.min}) must equal max (${group.max})`);
}

export function endpointRoutes(auth: DatabricksAuth, lakebase: Lakebase): Route[] {
  const { store, ops, clock } = lakebase;
  const guard = callerGuard(auth, lakebase);

  /** Applies an endpoint's update (from a PATCH or an adopting create): settings, group, disabled. */
  async function update(branch: BranchRecord, endpoint: EndpointRecord, spec: EndpointSpec, leaves: readonly string[]): Promise<EndpointRecord> {
    const updated: EndpointRecord = { ...endpoint, settings: { ...endpoint.settings }, updateTime: clock.now(), updating: ops.busy('endpoint') };
    for (const leaf of leaves) {
      switch (leaf) {
        case 'spec.autoscaling_limit_min_cu':
          updated.settings.min_cu = spec.autoscaling_limit_min_cu!;
          break;
        case 'spec.autoscaling_limit_max_cu':
          updated.settings.max_cu = spec.autoscaling_limit_max_cu!;
          break;
        case 'spec.suspension':
          updated.settings = mergeComputeSettings(updated.settings, { suspend_timeout_duration: spec.suspend_timeout_duration, no_suspension: spec.no_suspension }, 'spec', { maxSpread: false });
          break;
        case 'spec.disabled':
          updated.disabled = spec.disabled!;
          break;
        case 'spec.settings.pg_settings':
          updated.settings.pg_settings = spec.settings!.pg_settings!;
          break;
        case 'spec.group.min':
        case 'spec.group.max':
        case 'spec.group.enable_readable_secondaries': {
          const key = leaf.slice('spec.group.'.length) as 'min' | 'max' | 'enable_readable_secondaries';
          updated.group = { ...(updated.group ?? { min: 1, max: 1 }), [key]: spec.group![key] };
          break;
        }
      }
    }
    checkComputeSettings(updated.settings, 'spec', { maxSpread: true });
    checkGroup(updated.group, 'spec.group');
    if (updated.disabled && !endpoint.disabled) await lakebase.closeProxy(endpoint.name);
    if (!updated.disabled && endpoint.disabled) await lakebase.openProxy(updated, branch);
    await store.put(updated);
    return updated;
  }

  return [
    route({
      method: 'POST',
      path: '/projects/:project/branches/:branch/endpoints',
      guard,
      params: parentParams,
      query: createQuery('endpoint_id'),
      body: endpointBody,
      handler: (_ctx, { params: { project: projectId, branch: branchId }, query, body }) =>
        lakebase.serialize(async () => {
          const branch = await lakebase.branch(projectId, branchId);
          const id = requireId('endpoint', query.id);
          const spec = body?.spec;
          if (!spec?.endpoint_type) throw requiredField('endpoint.spec.endpoint_type');
          checkGroup(spec.group, 'spec.group');
          const name = `${branch.name}/endpoints/${id}`;
          const existing = await store.get('endpoint', name);
          if (existing && !query.replace_existing) throw alreadyExists('endpoint');
          if (existing && existing.endpoint_type !== spec.endpoint_type) {
            throw invalidParameter(`Field 'spec.endpoint_type' cannot be changed (the endpoint is ${existing.endpoint_type}); create another endpoint instead`);
          }
          if (!existing && spec.endpoint_type === 'ENDPOINT_TYPE_READ_WRITE') {
            const readWrite = (await store.all('endpoint', branch.name)).find((e) => e.endpoint_type === 'ENDPOINT_TYPE_READ_WRITE');
            if (readWrite) throw lakebaseError(409, 'ALREADY_EXISTS', `read_write endpoint already exists: '${readWrite.name}'. A branch has at most one read-write endpoint; pass replace_existing=true with its id to manage it`);
          }
          const project = await lakebase.project(projectId);
          const settings = mergeComputeSettings(existing?.settings ?? project.default_endpoint_settings, spec, 'spec', { maxSpread: true });
          await ops.assertBranchIdle(branch.name);
          return ops.start({ kind: 'endpoint', action: 'create', resource: name, branch: branch.name }, async () => {
            if (existing) {
              const leaves = maskedLeaves(undefined, { spec }, ENDPOINT_MASK);
              return lakebase.view(await update(branch, existing, spec, leaves));
            }
            const endpoint = await lakebase.createEndpoint(branch, {
              id,
              type: spec.endpoint_type!,
              settings,
              disabled: spec.disabled ?? false,
              ...(spec.group ? { group: spec.group } : {}),
              creating: ops.busy('endpoint'),
            });
            return lakebase.view(endpoint);
          });
        }),
    }),
    route({
      method: 'GET',
      path: '/projects/:project/branches/:branch/endpoints',
      guard,
      params: parentParams,
      query: listQuery,
      async handler(_ctx, { params: { project, branch: branchId }, query }) {
        const branch = await lakebase.branch(project, branchId);
        const { items, next_page_token } = page(await store.list('endpoint', branch.name), query.page_size, query.page_token);
        return { endpoints: await Promise.all(items.map((e) => lakebase.view(e))), ...(next_page_token ? { next_page_token } : {}) };
      },
    }),
    route({
      method: 'GET',
      path: '/projects/:project/branches/:branch/endpoints/:endpoint',
      guard,
      params,
      async handler(_ctx, { params: p }) {
        return lakebase.view((await lakebase.child('endpoint', p.project, p.branch, p.endpoint)).record);
      },
    }),
    route({
      method: 'PATCH',
      path: '/projects/:project/branches/:branch/endpoints/:endpoint',
      guard,
      params,
      query: updateQuery,
      body: endpointBody,
      handler: (_ctx, { params: p, query, body }) =>
        lakebase.serialize(async () => {
          const { branch, record } = await lakebase.child('endpoint', p.project, p.branch, p.endpoint);
          const spec = body?.spec ?? {};
          const leaves = maskedLeaves(query.update_mask, body ?? {}, ENDPOINT_MASK);
          if (spec.endpoint_type !== undefined && spec.endpoint_type !== record.endpoint_type) {
            throw invalidParameter(`Field 'spec.endpoint_type' cannot be changed (the endpoint is ${record.endpoint_type}); create another endpoint instead`);
          }
          await ops.assertBranchIdle(branch.name);
          return ops.start({ kind: 'endpoint', action: 'update', resource: record.name, branch: branch.name }, async () =>
            lakebase.view(await update(branch, record, spec, leaves)),
          );
        }),
    }),
    route({
      method: 'DELETE',
      path: '/projects/:project/branches/:branch/endpoints/:endpoint',
      guard,
      params,
      query: deleteQuery,
      handler: (_ctx, { params: p }) =>
        lakebase.serialize(async () => {
          const { branch, record } = await lakebase.child('endpoint', p.project, p.branch, p.endpoint);
          if (record.endpoint_type === 'ENDPOINT_TYPE_READ_WRITE') {
            throw managedByParent(`Cannot delete read-write endpoint '${record.name}'. Read-write endpoints cannot be deleted.`);
          }
          if (branch.is_protected) throw badRequest(`Cannot delete endpoint '${record.name}': its branch is protected`);
          await ops.assertBranchIdle(branch.name);
          return ops.start({ kind: 'endpoint', action: 'delete', resource: record.name, branch: branch.name }, async () => {
            await lakebase.closeProxy(record.name);
            await store.delete(record.name);
            return undefined;
          });
        }),
    }),
  ];
}
