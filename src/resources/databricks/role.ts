/**
 * `databricks:lakebase-role`: a Postgres role on a branch, managed by Lakebase. Its attributes
 * and memberships change in place; its name, identity and auth method cannot (the service refuses
 * them in an update mask), so changing them replaces the role.
 */
import * as z from 'zod';
import { ROLE_AUTH_METHODS, ROLE_IDENTITY_TYPES, ROLE_MEMBERSHIP_ROLES } from '../../services/databricks';
import { defineLakebaseType } from './lakebase';
import { lakebaseId } from './project';
import { workspaceSchema, type WorkspaceProps } from './workspace';

export const roleSchema = z
  .object({
    workspace: workspaceSchema,
    branch: z.string().min(1),
    roleId: lakebaseId(4),
    /** The Postgres role name; for a managed identity, the user's email, the application id or the group name. */
    postgresRole: z.string().min(1).max(63, 'must be at most 63 characters (a Postgres identifier)'),
    identityType: z.enum(ROLE_IDENTITY_TYPES).optional(),
    authMethod: z.enum(ROLE_AUTH_METHODS).optional(),
    membershipRoles: z.array(z.enum(ROLE_MEMBERSHIP_ROLES)).optional(),
    attributes: z.object({ createdb: z.boolean().optional(), createrole: z.boolean().optional(), bypassrls: z.boolean().optional() }).strict().optional(),
    replaceExisting: z.boolean().optional(),
  })
  .strict();

export type LakebaseRoleProps = z.infer<typeof roleSchema>;
export type LakebaseRoleOutputs = { name: string; roleId: string; postgresRole: string };

/** The owner role the service makes on every branch for a service principal that deploys. */
export function ownerRoleId(workspace: WorkspaceProps): string | undefined {
  return workspace.auth.clientId ? `sp-${workspace.auth.clientId.toLowerCase().replace(/[^a-z0-9]+/g, '-')}` : undefined;
}

export const roleType = defineLakebaseType<LakebaseRoleProps, LakebaseRoleOutputs>({
  name: 'databricks:lakebase-role',
  module: __filename,
  schema: roleSchema,
  noun: 'role',
  collection: 'roles',
  idParam: 'role_id',
  parent: (p) => p.branch,
  id: (p) => p.roleId,
  fields: [
    { prop: 'postgresRole', wire: 'postgres_role' },
    { prop: 'identityType', wire: 'identity_type' },
    { prop: 'authMethod', wire: 'auth_method' },
    { prop: 'membershipRoles', wire: 'membership_roles', mask: 'spec.membership_roles' },
    { prop: 'attributes', wire: 'attributes', mask: 'spec.attributes', leafMask: true },
  ],
  attributes: ['name', 'roleId', 'postgresRole'],
  stableAttributes: ['name', 'roleId', 'postgresRole'],
  outputs: (o, p) => ({ name: o.name, roleId: p.roleId, postgresRole: p.postgresRole }),
  immutable: ['workspace.host', 'branch', 'roleId', 'postgresRole', 'identityType', 'authMethod'],
  defaultRemovalPolicy: 'destroy',
  isImplicit: (p) => p.roleId === ownerRoleId(p.workspace),
  clashHint: () => `A branch made from another inherits its roles: to manage an inherited role here, set replaceExisting: true.`,
});
