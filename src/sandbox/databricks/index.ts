/**
 * The Databricks emulator: the Lakebase Autoscaling Postgres API (`w.postgres`, under
 * `/api/2.0/postgres`) with long-running operations, workspace sign-in (OAuth M2M for service
 * principals, personal access tokens) and host metadata, all at the root of the sandbox's URL, so
 * `DATABRICKS_HOST` is the sandbox URL itself (the SDKs keep only a host's scheme and authority).
 *
 * Every branch is a real PostgreSQL cluster and every endpoint a proxy on a loopback address of its
 * own at port 5432, so clients connect to `status.hosts.host` with a generated credential as they
 * would to Lakebase. Wire formats follow the real service.
 *
 * Where the sandbox knowingly differs:
 * - Operations apply their change when they start; their duration (0 ms unless configured) only
 *   delays `done`. Every create, update and delete answers `done: false` first.
 * - Hosts are loopback IP addresses, not DNS names; every branch runs the same Postgres major
 *   version (the package's) whatever `pg_version` says; computes never scale (CU limits are
 *   recorded, not enforced) and never suspend on their own: a compute is IDLE until its first
 *   connection or change after a start, then ACTIVE.
 * - A branch is a copy of its source as it is when created: `source_branch_lsn`/`_time`
 *   (point-in-time branching) are recorded, not honoured, and snapshots are not supported.
 * - A database credential is set as the role's password on that endpoint's branch only (the real
 *   one is workspace-wide). A role has one password: while its last token is valid for 5 more
 *   minutes, a new request gets the same token back; after that a new one replaces it.
 * - Roles and databases made in SQL do not show in the API's lists.
 * - Catalogs and synced tables have no Unity Catalog or Delta behind them: a synced table's
 *   Postgres table has its primary key columns (text), its timeseries key and `_synced_at`, no rows.
 * - Unverified choices (the status of some conflicts, messages, generated ids, the soft-delete
 *   retention of 7 days, a branch's expiry deleting it softly) are noted where they are made.
 */
import * as path from 'node:path';
import { createHash, randomInt, randomUUID } from 'node:crypto';
import { DATABRICKS_ENVIRONMENT, LAKEBASE_POSTGRES_PORT } from '../../services/databricks';
import { defineEmulator } from '../emulator';
import { route, type Route, type Service } from '../http';
import { callerGuard } from './api';
import { DatabricksAuth, newSecret, newToken } from './auth';
import { branchRoutes } from './branches';
import { catalogRoutes } from './catalogs';
import { BranchClusters, type ClusterLogin } from './clusters';
import { credentialRoutes } from './credentials';
import { databaseRoutes } from './databases';
import { endpointRoutes } from './endpoints';
import { clientErrorFromPostgres, databricksErrorBody, databricksInvalidInput, notFound } from './errors';
import { Lakebase } from './lakebase';
import { hostMetadataService, oidcService } from './oidc';
import { OPERATION_KINDS, Operations, type OperationFailure, type OperationKind } from './operations';
import { projectRoutes } from './projects';
import { roleRoutes } from './roles';
import { migrate, initSetting, ResourceStore } from './store';
import { syncedTableRoutes } from './synced-tables';
import { endpointTls } from './tls';

export type { OperationFailure, OperationKind } from './operations';
export type { ClusterLogin } from './clusters';

/** The test-facing handle: `sandbox.databricks`. */
export interface DatabricksSandbox {
  /** The workspace URL: the sandbox URL, `http://127.0.0.1:<port>` (DATABRICKS_HOST). */
  readonly host: string;
  /** The numeric workspace id the host metadata reports. */
  readonly workspaceId: string;
  /** The default service principal: its application id and OAuth secret (DATABRICKS_CLIENT_ID / _SECRET). */
  readonly defaultClient: { readonly clientId: string; readonly clientSecret: string };
  /** The default user's personal access token (DATABRICKS_TOKEN), and that user's email. */
  readonly token: string;
  readonly tokenUser: string;
  /** The port endpoints listen on (each on its own loopback address); 0 when each has a free port of its own. */
  readonly endpointPort: number;
  /** Registers (or re-keys) a service principal; returns its credentials (a UUID and a secret by default). */
  addClient(client?: { clientId?: string; clientSecret?: string }): Promise<{ clientId: string; clientSecret: string }>;
  /** Registers a personal access token for a user (by email); returns the token. */
  addToken(user: string, token?: string): Promise<string>;
  /**
   * How long operations of `kind` (or every kind) take, in ms of the sandbox's clock. A shorter
   * duration also cuts operations already running short: 0 lets them finish at the next poll.
   */
  setOperationDelay(kind: OperationKind | 'all', ms: number): void;
  /** The next operation of `kind` reports `failure` (`done` with `error`) and changes nothing. */
  failNextOperation(kind: OperationKind, failure?: OperationFailure): void;
  /** Where an endpoint's proxy listens, or undefined if it does not (disabled, deleted). */
  endpointAddress(endpointName: string): { host: string; port: number } | undefined;
  /**
   * The superuser login of a branch's Postgres (`projects/p/branches/b`), starting it if need be:
   * for tests that look behind the API. Not something Lakebase offers.
   */
  branchSuperuser(branchName: string): Promise<ClusterLogin>;
}

/** The Databricks emulator's options (part of the sandbox options). */
export interface DatabricksEmulatorOptions {
  /** Lifetime of OAuth access tokens from `/oidc/v1/token`. @default 3600 */
  readonly databricksTokenTtlSeconds?: number;
  /** How long every long-running operation takes, in ms of the sandbox's clock. @default 0 */
  readonly databricksOperationDelayMs?: number;
  /** Per kind (`project`, `branch`, `endpoint`, `role`, `database`, `catalog`, `synced_table`), over the default. */
  readonly databricksOperationDelays?: Partial<Record<OperationKind, number>>;
  /**
   * The port every endpoint listens on, each on a loopback address of its own (127.x.y.z).
   * 0 picks a free port per endpoint (clients must then ask the handle). @default 5432
   */
  readonly databricksEndpointPort?: number;
  /** How long a synced table takes to provision before it is online, in ms of the sandbox's clock. @default 0 */
  readonly databricksSyncedTableProvisioningMs?: number;
  /** How long a soft-deleted project or branch stays restorable before it is purged. @default 7 days */
  readonly databricksSoftDeleteRetentionSeconds?: number;
}

function checkMs(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isFinite(value) || value < 0)) throw new Error(`sandbox: ${name} must be a number >= 0, got ${value}`);
}

/** The operation routes: `GET /api/2.0/postgres/<operation name>` for every kind of parent. */
function operationRoutes(guard: Route['guard'], lakebase: Lakebase): Route[] {
  const parents = [
    '/projects/:p',
    '/projects/:p/branches/:b',
    '/projects/:p/branches/:b/endpoints/:e',
    '/projects/:p/branches/:b/roles/:r',
    '/projects/:p/branches/:b/databases/:d',
    '/catalogs/:c',
    '/synced_tables/:s',
  ];
  return parents.map((parent) =>
    route({
      method: 'GET',
      path: `${parent}/operations/:operation`,
      guard,
      async handler(ctx) {
        const name = ctx.path
          .slice(API_PREFIX.length + 1)
          .split('/')
          .map((segment) => decodeURIComponent(segment))
          .join('/');
        const operation = await lakebase.ops.get(name, (kind, resource) => lakebase.viewByName(kind, resource));
        if (!operation) throw notFound('operation');
        return operation;
      },
    }),
  );
}

const API_PREFIX = '/api/2.0/postgres';

/**
 * SCIM `Me` (`/api/2.0/preview/scim/v2/Me`), which clients ask who they are: `userName` is a
 * user's email or a service principal's application id (also its Postgres role name).
 */
function scimService(auth: DatabricksAuth): Service {
  return {
    prefix: '/api/2.0/preview/scim/v2',
    routes: [
      route({
        method: 'GET',
        path: '/Me',
        guard: (ctx) => auth.caller(ctx),
        handler: (_ctx, { guard: identity }) => ({
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:workspace:2.0:User'],
          id: scimId(identity.id),
          userName: identity.id,
          displayName: identity.kind === 'USER' ? identity.id.split('@')[0] : `service principal ${identity.id}`,
          active: true,
          ...(identity.kind === 'USER' ? { emails: [{ value: identity.id, type: 'work', primary: true }] } : {}),
          groups: [],
        }),
      }),
    ],
    errorBody: databricksErrorBody,
    invalidInput: databricksInvalidInput,
  };
}

/** A stable numeric SCIM id for an identity, as the real ids are numbers. */
function scimId(identity: string): string {
  return String(BigInt(`0x${createHash('sha256').update(identity).digest('hex').slice(0, 13)}`));
}

export const databricksEmulator = defineEmulator<DatabricksEmulatorOptions, DatabricksSandbox>({
  name: 'databricks',
  validate(options) {
    checkMs('databricksTokenTtlSeconds', options.databricksTokenTtlSeconds);
    checkMs('databricksOperationDelayMs', options.databricksOperationDelayMs);
    checkMs('databricksSyncedTableProvisioningMs', options.databricksSyncedTableProvisioningMs);
    checkMs('databricksSoftDeleteRetentionSeconds', options.databricksSoftDeleteRetentionSeconds);
    for (const [kind, ms] of Object.entries(options.databricksOperationDelays ?? {})) {
      if (!OPERATION_KINDS.includes(kind as OperationKind)) throw new Error(`sandbox: databricksOperationDelays has an unknown kind '${kind}'; kinds are ${OPERATION_KINDS.join(', ')}`);
      checkMs(`databricksOperationDelays.${kind}`, ms);
    }
    const port = options.databricksEndpointPort;
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new Error(`sandbox: databricksEndpointPort must be a port number (0 picks a free one per endpoint), got ${port}`);
  },
  async start({ url, dataDir, pg, clock, options }) {
    await migrate(pg.state);
    const dir = path.join(dataDir, 'databricks');
    const workspaceId = await initSetting(pg.state, 'workspace_id', String(randomInt(1_000_000_000, 2_000_000_000) * 1_000_000 + randomInt(0, 1_000_000)));
    const accountId = await initSetting(pg.state, 'account_id', randomUUID());
    const auth = new DatabricksAuth(pg, { tokenTtlSeconds: options.databricksTokenTtlSeconds ?? 3600, clock });
    const defaults = await auth.defaults();
    const ops = new Operations(pg, clock, options.databricksOperationDelayMs ?? 0, options.databricksOperationDelays);
    const clusters = new BranchClusters(dir, { verbose: (options as { verbose?: boolean }).verbose });
    const endpointPort = options.databricksEndpointPort ?? LAKEBASE_POSTGRES_PORT;
    const lakebase = new Lakebase(
      pg,
      new ResourceStore(pg.state),
      ops,
      clusters,
      clock,
      {
        endpointPort,
        syncedTableProvisioningMs: options.databricksSyncedTableProvisioningMs ?? 0,
        softDeleteRetentionMs: (options.databricksSoftDeleteRetentionSeconds ?? 7 * 86_400) * 1000,
      },
      endpointTls(dir),
    );
    try {
      await lakebase.restore();
    } catch (error) {
      await lakebase.stop();
      throw error;
    }

    const api: Service = {
      prefix: API_PREFIX,
      routes: [
        ...projectRoutes(auth, lakebase),
        ...branchRoutes(auth, lakebase),
        ...endpointRoutes(auth, lakebase),
        ...roleRoutes(auth, lakebase),
        ...databaseRoutes(auth, lakebase),
        ...catalogRoutes(auth, lakebase),
        ...syncedTableRoutes(auth, lakebase),
        ...credentialRoutes(auth, lakebase),
        ...operationRoutes(callerGuard(auth, lakebase), lakebase),
      ],
      errorBody: databricksErrorBody,
      invalidInput: databricksInvalidInput,
      translateError: clientErrorFromPostgres,
    };

    const handle: DatabricksSandbox = {
      host: url,
      workspaceId,
      defaultClient: { clientId: defaults.clientId, clientSecret: defaults.clientSecret },
      token: defaults.token,
      tokenUser: defaults.user,
      endpointPort,
      async addClient(client = {}) {
        const clientId = client.clientId ?? randomUUID();
        if (clientId === defaults.clientId) throw new Error(`'${clientId}' is the default client; pick another clientId`);
        const clientSecret = client.clientSecret ?? newSecret();
        await auth.addServicePrincipal(clientId, clientSecret);
        return { clientId, clientSecret };
      },
      async addToken(user, token = newToken()) {
        await auth.addToken(user, token);
        return token;
      },
      setOperationDelay: (kind, ms) => ops.setDelay(kind, ms),
      failNextOperation: (kind, failure) => ops.failNext(kind, failure),
      endpointAddress: (name) => lakebase.endpointAddress(name),
      async branchSuperuser(branchName) {
        const branch = await lakebase.store.get('branch', branchName);
        if (!branch) throw new Error(`no branch ${branchName}`);
        return clusters.login(branch.cluster);
      },
    };

    return {
      services: [api, scimService(auth), oidcService(url, auth), hostMetadataService(url, workspaceId, accountId)],
      handle,
      env: () => ({
        [DATABRICKS_ENVIRONMENT.host]: url,
        [DATABRICKS_ENVIRONMENT.clientId]: defaults.clientId,
        [DATABRICKS_ENVIRONMENT.clientSecret]: defaults.clientSecret,
      }),
      stop: () => lakebase.stop(),
    };
  },
});
