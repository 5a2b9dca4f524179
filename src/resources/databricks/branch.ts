/**
 * `databricks:lakebase-branch`: a copy-on-write branch of a project, starting from its source
 * branch's data. The service gives every branch a `primary` read-write endpoint, an owner role and
 * a `databricks_postgres` database; a project's `production` branch is made with the project.
 */
import * as z from 'zod';
import { LAKEBASE_ROOT_BRANCH } from '../../services/databricks';
import { defineLakebaseType, duration, statusString } from './lakebase';
import { EVEN_WITH_REFERENCES, lakebaseId } from './project';
import { workspaceSchema } from './workspace';

export const branchSchema = z
  .object({
    workspace: workspaceSchema,
    /** The project's resource name, `projects/<id>`. */
    project: z.string().min(1),
    branchId: lakebaseId(),
    /** The branch to start from (a resource name). @default the project's default branch */
    sourceBranch: z.string().min(1).optional(),
    sourceBranchLsn: z.string().min(1).optional(),
    /** RFC 3339: start from the source as it was then. */
    sourceBranchTime: z.iso.datetime({ offset: true }).optional(),
    isProtected: z.boolean().optional(),
    /** Deleted by the service this long after creation. */
    ttlSeconds: z.number().int().positive().optional(),
    /** Deleted by the service at this time (RFC 3339). */
    expireTime: z.iso.datetime({ offset: true }).optional(),
    purgeOnDelete: z.boolean().optional(),
    replaceExisting: z.boolean().optional(),
  })
  .strict()
  .refine((p) => !(p.ttlSeconds !== undefined && p.expireTime !== undefined), { message: 'give ttlSeconds or expireTime, not both', path: ['expireTime'], ...EVEN_WITH_REFERENCES });

export type LakebaseBranchProps = z.infer<typeof branchSchema>;
export type LakebaseBranchOutputs = { name: string; branchId: string; uid: string; project: string };

export const branchType = defineLakebaseType<LakebaseBranchProps, LakebaseBranchOutputs>({
  name: 'databricks:lakebase-branch',
  module: __filename,
  schema: branchSchema,
  noun: 'branch',
  collection: 'branches',
  idParam: 'branch_id',
  parent: (p) => p.project,
  id: (p) => p.branchId,
  fields: [
    { prop: 'sourceBranch', wire: 'source_branch' },
    { prop: 'sourceBranchLsn', wire: 'source_branch_lsn' },
    { prop: 'sourceBranchTime', wire: 'source_branch_time', observed: false },
    { prop: 'isProtected', wire: 'is_protected', mask: 'spec.is_protected' },
    { prop: 'ttlSeconds', wire: 'ttl', mask: 'spec.expiration', encode: duration, observed: false },
    { prop: 'expireTime', wire: 'expire_time', mask: 'spec.expiration', observed: false },
  ],
  // The service wants an expiry choice on every branch: without ttl or expireTime, none.
  specDefaults: (p) => (p.ttlSeconds === undefined && p.expireTime === undefined ? { no_expiry: true } : {}),
  attributes: ['name', 'branchId', 'uid', 'project'],
  stableAttributes: ['name', 'branchId', 'uid', 'project'],
  outputs: (o, p) => ({ name: o.name, branchId: p.branchId, uid: o.uid ?? '', project: p.project }),
  immutable: ['workspace.host', 'project', 'branchId', 'sourceBranch', 'sourceBranchLsn', 'sourceBranchTime'],
  defaultRemovalPolicy: 'retain',
  isImplicit: (p) => p.branchId === LAKEBASE_ROOT_BRANCH,
  deleteQuery: (p) => (p.purgeOnDelete ? { purge: true } : {}),
  ready: (o) => statusString(o, 'current_state') !== 'INIT',
});
