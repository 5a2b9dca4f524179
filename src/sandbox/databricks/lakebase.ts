/**
 * The Lakebase emulator's core, shared by the route modules: lookups that check the parent chain
 * first (project, then branch), the implicit children every project and branch gets, the branch
 * clusters and the endpoints' proxies, soft deletes coming due, and one mutation at a time.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type * as tls from 'node:tls';
import type { ClientBase } from 'pg';
import { LAKEBASE_DEFAULT_DATABASE, LAKEBASE_PRIMARY_ENDPOINT, LAKEBASE_ROOT_BRANCH } from '../../services/databricks';
import type { Clock } from '../clock';
import { quoteIdent, type PostgresServer } from '../postgres';
import { ownerRoleId, type Identity } from './auth';
import type { BranchClusters } from './clusters';
import { notFound } from './errors';
import {
  branchView,
  catalogView,
  databaseView,
  endpointView,
  projectView,
  roleView,
  syncedTableView,
  type BranchRecord,
  type Busy,
  type ComputeSettings,
  type DatabaseRecord,
  type EndpointRecord,
  type Kind,
  type LakebaseRecord,
  type ProjectRecord,
  type RoleRecord,
  type ViewContext,
} from './model';
import type { Operations } from './operations';
import { applyRole, setDatabaseOwner } from './pgsql';
import { EndpointProxy } from './proxy';
import type { ResourceStore } from './store';

export interface LakebaseOptions {
  /** The port endpoints listen on (0: a free port per endpoint). */
  readonly endpointPort: number;
  readonly syncedTableProvisioningMs: number;
  readonly softDeleteRetentionMs: number;
}

const WORDS_A = ['quiet', 'bright', 'calm', 'brave', 'misty', 'rapid', 'silent', 'sunny', 'wild', 'young', 'sparkling', 'restless'];
const WORDS_B = ['river', 'forest', 'meadow', 'pine', 'cloud', 'stone', 'field', 'brook', 'tree', 'hill', 'lake', 'wave'];

/** Ids like the service's generated ones: `br-quiet-river-a1b2c3d4`. */
export function generatedUid(prefix: string): string {
  const [a, b] = [...randomBytes(2)];
  return `${prefix}-${WORDS_A[a! % WORDS_A.length]}-${WORDS_B[b! % WORDS_B.length]}-${randomBytes(4).toString('hex')}`;
}

export class Lakebase {
  private readonly proxies = new Map<string, EndpointProxy>();
  /** The latest credential's expiry per cluster and role, on the emulator's clock. */
  private readonly credentials = new Map<string, number>();
  private mutations: Promise<unknown> = Promise.resolve();
  private nextSweep = 0;

  constructor(
    readonly pg: PostgresServer,
    readonly store: ResourceStore,
    readonly ops: Operations,
    readonly clusters: BranchClusters,
    readonly clock: Clock,
    readonly options: LakebaseOptions,
    private readonly tlsContext: tls.SecureContext | undefined,
  ) {}

  /** Runs mutations one after another, so two requests never interleave their checks and changes. */
  serialize<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.mutations.catch(() => undefined).then(fn);
    this.mutations = result.catch(() => undefined);
    return result;
  }

  viewContext(): ViewContext {
    return { now: this.clock.now(), doneAt: (busy) => this.ops.doneAt(busy), isRunning: (cluster) => this.clusters.isRunning(cluster) };
  }

  /** The resource's wire form, for GET, lists and finished operations. */
  async view(record: LakebaseRecord): Promise<Record<string, unknown>> {
    const context = this.viewContext();
    switch (record.kind) {
      case 'project':
        return projectView(record);
      case 'branch':
        return branchView(record, context);
      case 'endpoint': {
        const branch = await this.store.get('branch', record.parent);
        return endpointView(record, branch?.cluster ?? '', context);
      }
      case 'role':
        return roleView(record);
      case 'database':
        return databaseView(record);
      case 'catalog':
        return catalogView(record);
      case 'synced_table':
        return syncedTableView(record, context.now);
    }
  }

  async viewByName(kind: Kind, name: string): Promise<Record<string, unknown> | undefined> {
    const record = await this.store.get(kind, name);
    return record ? this.view(record) : undefined;
  }

  // ---------------------------------------------------------------------------- lookups

  /** The project (404 if missing); soft-deleted ones only with `deleted: 'allow'`. */
  async project(projectId: string, deleted: 'allow' | 'refuse' = 'refuse'): Promise<ProjectRecord> {
    const project = await this.store.get('project', `projects/${projectId}`);
    if (!project || (deleted === 'refuse' && project.deleteTime !== undefined)) throw notFound('project');
    return project;
  }

  /** The branch, its project checked first. */
  async branch(projectId: string, branchId: string, deleted: 'allow' | 'refuse' = 'refuse'): Promise<BranchRecord> {
    await this.project(projectId);
    const branch = await this.store.get('branch', `projects/${projectId}/branches/${branchId}`);
    if (!branch || (deleted === 'refuse' && branch.deleteTime !== undefined)) throw notFound('branch');
    return branch;
  }

  /** A branch's child (endpoint, role, database), the project and branch checked first. */
  async child<K extends 'endpoint' | 'role' | 'database'>(kind: K, projectId: string, branchId: string, id: string) {
    const branch = await this.branch(projectId, branchId);
    const record = await this.store.get(kind, `${branch.name}/${kind}s/${id}`);
    if (!record) throw notFound(kind);
    return { branch, record };
  }

  // ---------------------------------------------------------------------------- branch clusters

  /** Runs `fn` as the cluster superuser on a database of the branch's Postgres (started if need be). */
  withDatabase<T>(branch: BranchRecord, database: string, fn: (client: ClientBase) => Promise<T>): Promise<T> {
    return this.clusters.withAdmin(branch.cluster, database, fn);
  }

  /**
   * The roles and database a new branch starts with: copies of the source's records (the data
   * came with the cluster copy) or, for a root branch, the default database; plus the owner role
   * of the identity creating it, if the branch has none for it yet.
   */
  async createImplicitChildren(branch: BranchRecord, creator: Identity, source: BranchRecord | undefined, initialDatabase?: string): Promise<void> {
    const now = this.clock.now();
    const rename = (name: string) => (source ? `${branch.name}${name.slice(source.name.length)}` : name);
    const roles: RoleRecord[] = source
      ? (await this.store.all('role', source.name)).map((r) => ({ ...r, name: rename(r.name), parent: branch.name, createTime: now, updateTime: now }))
      : [];
    const databases: DatabaseRecord[] = source
      ? (await this.store.all('database', source.name)).map((d) => ({ ...d, name: rename(d.name), parent: branch.name, role: rename(d.role), createTime: now, updateTime: now }))
      : [];
    let owner = roles.find((r) => r.postgres_role === creator.id);
    if (!owner) {
      owner = {
        kind: 'role',
        name: `${branch.name}/roles/${ownerRoleId(creator)}`,
        parent: branch.name,
        id: ownerRoleId(creator),
        createTime: now,
        updateTime: now,
        postgres_role: creator.id,
        identity_type: creator.kind,
        auth_method: 'LAKEBASE_OAUTH_V1',
        membership_roles: ['DATABRICKS_SUPERUSER'],
        attributes: { createdb: true, createrole: true, bypassrls: false },
      };
      roles.push(owner);
    }
    if (!source) {
      const postgresDatabase = initialDatabase ?? LAKEBASE_DEFAULT_DATABASE.postgresDatabase;
      databases.push({
        kind: 'database',
        name: `${branch.name}/databases/${LAKEBASE_DEFAULT_DATABASE.id}`,
        parent: branch.name,
        id: LAKEBASE_DEFAULT_DATABASE.id,
        createTime: now,
        updateTime: now,
        postgres_database: postgresDatabase,
        role: owner.name,
      });
    }
    const ownerRecord = owner;
    const root = source ? undefined : databases[0]!;
    await this.withDatabase(branch, 'postgres', async (client) => {
      await applyRole(client, ownerRecord);
      if (root && root.postgres_database !== LAKEBASE_DEFAULT_DATABASE.postgresDatabase) {
        await client.query(`ALTER DATABASE ${quoteIdent(LAKEBASE_DEFAULT_DATABASE.postgresDatabase)} RENAME TO ${quoteIdent(root.postgres_database)}`);
      }
    });
    if (root) await this.withDatabase(branch, root.postgres_database, (client) => setDatabaseOwner(client, root.postgres_database, creator.id));
    for (const record of [...roles, ...databases]) await this.store.put(record);
  }

  /** A new endpoint record with a loopback address of its own, its proxy listening unless disabled. */
  async createEndpoint(branch: BranchRecord, fields: { id: string; type: EndpointRecord['endpoint_type']; settings: ComputeSettings; disabled: boolean; group?: EndpointRecord['group']; creating: Busy }): Promise<EndpointRecord> {
    const now = this.clock.now();
    const taken = new Set((await this.store.all('endpoint')).map((e) => e.address));
    let lastError: unknown;
    for (let attempt = 0; attempt < 8; attempt++) {
      const address = randomLoopback();
      if (taken.has(address)) continue;
      const endpoint: EndpointRecord = {
        kind: 'endpoint',
        name: `${branch.name}/endpoints/${fields.id}`,
        parent: branch.name,
        id: fields.id,
        uid: generatedUid('ep'),
        createTime: now,
        updateTime: now,
        endpoint_type: fields.type,
        settings: fields.settings,
        disabled: fields.disabled,
        ...(fields.group ? { group: fields.group } : {}),
        address,
        port: this.options.endpointPort,
        creating: fields.creating,
      };
      try {
        if (!endpoint.disabled) await this.openProxy(endpoint, branch);
        await this.store.put(endpoint);
        return endpoint;
      } catch (error) {
        // Someone else holds this address and port: try another address.
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
        await this.closeProxy(endpoint.name);
        lastError = error;
      }
    }
    throw endpointBindError(this.options.endpointPort, lastError);
  }

  /** The read-write endpoint every branch gets, with the project's default compute settings. */
  async createPrimaryEndpoint(project: ProjectRecord, branch: BranchRecord, creating: Busy, initial?: Partial<ComputeSettings> & { group?: EndpointRecord['group'] }): Promise<EndpointRecord> {
    const { group, ...settings } = initial ?? {};
    return this.createEndpoint(branch, {
      id: LAKEBASE_PRIMARY_ENDPOINT,
      type: 'ENDPOINT_TYPE_READ_WRITE',
      settings: { ...project.default_endpoint_settings, ...settings },
      disabled: false,
      ...(group ? { group } : {}),
      creating,
    });
  }

  // ---------------------------------------------------------------------------- proxies

  async openProxy(endpoint: EndpointRecord, branch: BranchRecord): Promise<void> {
    if (this.proxies.has(endpoint.name)) return;
    const cluster = branch.cluster;
    const proxy = new EndpointProxy(
      endpoint.address,
      endpoint.port,
      {
        upstream: () => this.clusters.ensureRunning(cluster),
        refuseLogin: (user) => {
          const expiresAt = this.credentials.get(credentialKey(cluster, user));
          if (expiresAt === undefined || this.clock.now() < expiresAt) return undefined;
          return `password authentication failed for user "${user}": the database credential expired at ${new Date(expiresAt).toISOString()}; generate a new one`;
        },
        readOnly: endpoint.endpoint_type === 'ENDPOINT_TYPE_READ_ONLY',
      },
      this.tlsContext,
    );
    const port = await proxy.listen();
    this.proxies.set(endpoint.name, proxy);
    if (port !== endpoint.port) endpoint.port = port;
  }

  async closeProxy(name: string): Promise<void> {
    const proxy = this.proxies.get(name);
    this.proxies.delete(name);
    await proxy?.close();
  }

  /** Closes the proxies of every endpoint named below `prefix` (a branch or a project). */
  async closeProxiesBelow(prefix: string): Promise<void> {
    for (const name of [...this.proxies.keys()]) if (name.startsWith(`${prefix}/`)) await this.closeProxy(name);
  }

  /** Opens the proxies of a branch's enabled endpoints (after an undelete, or at start). */
  async openProxiesOf(branch: BranchRecord): Promise<void> {
    for (const endpoint of await this.store.all('endpoint', branch.name)) {
      if (endpoint.disabled) continue;
      const before = endpoint.port;
      // The configured port wins over the one recorded (a free one, when the option was 0).
      if (this.options.endpointPort !== 0) endpoint.port = this.options.endpointPort;
      await this.openProxy(endpoint, branch).catch((error: unknown) => {
        throw endpointBindError(this.options.endpointPort, error, endpoint);
      });
      if (endpoint.port !== before) await this.store.put(endpoint);
    }
  }

  /** Brings back every live endpoint's proxy after a restart (their computes start on demand). */
  async restore(): Promise<void> {
    const credentials = await this.pg.state.query('SELECT cluster, postgres_role, expires_at FROM databricks.credentials');
    for (const row of credentials.rows as Array<{ cluster: string; postgres_role: string; expires_at: string }>) {
      this.credentials.set(credentialKey(row.cluster, row.postgres_role), Number(row.expires_at));
    }
    for (const project of await this.store.all('project')) {
      if (project.deleteTime !== undefined) continue;
      for (const branch of await this.store.all('branch', project.name)) {
        if (branch.deleteTime === undefined) await this.openProxiesOf(branch);
      }
    }
  }

  async stop(): Promise<void> {
    for (const name of [...this.proxies.keys()]) await this.closeProxy(name);
    await this.clusters.stopAll();
  }

  endpointAddress(name: string): { host: string; port: number } | undefined {
    const proxy = this.proxies.get(name);
    return proxy ? { host: proxy.address, port: proxy.port } : undefined;
  }

  // ---------------------------------------------------------------------------- credentials

  async recordCredential(cluster: string, role: string, expiresAt: number): Promise<void> {
    this.credentials.set(credentialKey(cluster, role), expiresAt);
    await this.pg.state.query(
      `INSERT INTO databricks.credentials (cluster, postgres_role, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (cluster, postgres_role) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
      [cluster, role, expiresAt],
    );
  }

  // ---------------------------------------------------------------------------- deletes

  /** Removes a branch for good: its endpoints' proxies, its cluster's files and its records. */
  async purgeBranch(branch: BranchRecord): Promise<void> {
    await this.closeProxiesBelow(branch.name);
    await this.clusters.destroy(branch.cluster);
    await this.pg.state.query('DELETE FROM databricks.credentials WHERE cluster = $1', [branch.cluster]);
    for (const key of [...this.credentials.keys()]) if (key.startsWith(`${branch.cluster}\0`)) this.credentials.delete(key);
    await this.store.deleteTree(branch.name);
  }

  async purgeProject(project: ProjectRecord): Promise<void> {
    for (const branch of await this.store.all('branch', project.name)) await this.purgeBranch(branch);
    await this.store.deleteTree(project.name);
  }

  /** Soft-deletes a branch: it keeps its data until `purgeTime`, and its endpoints stop. */
  async softDeleteBranch(branch: BranchRecord, at: number): Promise<void> {
    await this.closeProxiesBelow(branch.name);
    await this.clusters.stop(branch.cluster);
    branch.deleteTime = at;
    branch.purgeTime = at + this.options.softDeleteRetentionMs;
    branch.stateChangeTime = at;
    branch.updateTime = at;
    await this.store.put(branch);
  }

  /**
   * Applies what time has brought: soft-deleted projects and branches past their purge time go
   * for good, and branches past their expiry are deleted. Runs at most once per clock millisecond.
   */
  async sweep(): Promise<void> {
    const now = this.clock.now();
    if (now < this.nextSweep) return;
    this.nextSweep = now + 1;
    const due = await this.store.due(now);
    if (due.length === 0) return;
    await this.serialize(async () => {
      for (const record of await this.store.due(now)) {
        if (record.kind === 'project') await this.purgeProject(record);
        else if (record.deleteTime !== undefined) await this.purgeBranch(record);
        else if (!record.is_protected && !record.isDefault && !record.root) await this.softDeleteBranch(record, record.expireTime!);
      }
    });
  }

  /** A fresh project's defaults, before its spec is applied. */
  static defaultComputeSettings(): ComputeSettings {
    return { min_cu: 1, max_cu: 1, suspend_seconds: 86_400 };
  }

  static newUid(): string {
    return randomUUID();
  }

  static rootBranchName(projectName: string): string {
    return `${projectName}/branches/${LAKEBASE_ROOT_BRANCH}`;
  }
}

function credentialKey(cluster: string, role: string): string {
  return `${cluster}\0${role}`;
}

/** A random loopback address other than 127.0.0.1, so every endpoint can use the Postgres port. */
function randomLoopback(): string {
  const [a, b, c] = [...randomBytes(3)];
  return `127.${1 + (a! % 254)}.${b!}.${1 + (c! % 254)}`;
}

function endpointBindError(port: number, cause: unknown, endpoint?: EndpointRecord): Error {
  const where = endpoint ? `${endpoint.address}:${endpoint.port} for ${endpoint.name}` : `a loopback address at port ${port}`;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new Error(
    `sandbox: a Lakebase endpoint cannot listen on ${where} (${reason}); choose another port with the databricksEndpointPort option (0 picks a free one per endpoint). Endpoints need addresses in 127.0.0.0/8 besides 127.0.0.1, which Linux provides.`,
  );
}
