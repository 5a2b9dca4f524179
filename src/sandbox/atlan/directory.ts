/**
 * Heracles' directory: `roles`, `v2/groups`, `users`, `users/current`, `whoami` and `apikeys`, in
 * the `{totalRecord, filterRecord, records}` envelope. The official client resolves `$admin` to a
 * role id through `roles`, checks a connection's admin groups and users against `v2/groups` and
 * `users` (API-key client ids against `apikeys`), and reads whoami's roles before any change.
 */
import { route, type Route } from '../http';
import { GROUPS, ROLES, USERS, serviceAccount, type AtlanIdentity, type Caller } from './identity';
import { listPage, listQuery } from './filters';

const CREATED = 1_700_000_000_000;

function roleRecord(role: (typeof ROLES)[number]): Record<string, unknown> {
  const members = USERS.filter((u) => u.role === role.name).length;
  return { id: role.id, name: role.name, description: role.description, clientRole: false, level: 'workspace', memberCount: String(members), userCount: String(members) };
}

function groupRecord(group: (typeof GROUPS)[number]): Record<string, unknown> {
  return {
    id: group.id,
    name: group.name,
    alias: group.alias,
    path: `/${group.name}`,
    attributes: { alias: [group.alias], isDefault: ['false'], createdAt: [String(CREATED)], createdBy: ['pgstacks-sandbox'] },
    personas: [],
    purposes: [],
    userCount: USERS.filter((u) => u.groups.includes(group.name)).length,
  };
}

function userRecord(user: (typeof USERS)[number]): Record<string, unknown> {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    emailVerified: true,
    enabled: true,
    firstName: user.firstName,
    lastName: user.lastName,
    createdTimestamp: CREATED,
    groupCount: user.groups.length,
    isScimUser: false,
    status: 'Enabled',
    workspaceRole: user.role,
    personas: [],
    attributes: {},
  };
}

export function directoryRoutes(identity: AtlanIdentity): Route[] {
  const read = identity.guard('read');
  return [
    route({
      method: 'GET',
      path: '/roles',
      guard: read,
      query: listQuery,
      handler: (_ctx, { query }) => listPage(ROLES.map(roleRecord), query),
    }),
    route({
      method: 'GET',
      path: '/v2/groups',
      guard: read,
      query: listQuery,
      handler: (_ctx, { query }) => listPage(GROUPS.map(groupRecord), query),
    }),
    route({
      method: 'GET',
      path: '/users',
      guard: read,
      query: listQuery,
      handler: (_ctx, { query }) => listPage(USERS.map(userRecord), query),
    }),
    route({
      method: 'GET',
      path: '/users/current',
      guard: read,
      handler: (_ctx, { guard }) => currentUser(guard),
    }),
    route({
      method: 'GET',
      path: '/whoami',
      guard: read,
      handler: (_ctx, { guard }) => identity.whoami(guard),
    }),
    route({
      method: 'GET',
      path: '/apikeys',
      guard: read,
      query: listQuery,
      async handler(_ctx, { query }) {
        const keys = await identity.keys();
        const records = keys.map((k) => ({
          id: k.guid,
          clientId: k.clientId,
          displayName: k.displayName,
          username: serviceAccount(k.clientId),
          attributes: { displayName: k.displayName, createdAt: String(k.createdAt), createdBy: 'pgstacks-sandbox', description: '', personas: [] },
        }));
        return listPage(records, query);
      },
    }),
  ];
}

function currentUser(caller: Caller): Record<string, unknown> {
  return { id: caller.key.guid, username: caller.username, firstName: caller.key.displayName, lastName: '', email: '', enabled: true, groups: [], roles: caller.key.roles };
}
