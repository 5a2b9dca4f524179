import { Construct } from 'constructs';
import { branchType, type LakebaseBranchOutputs } from '../../src/resources/databricks/branch';
import { catalogType, type LakebaseCatalogOutputs } from '../../src/resources/databricks/catalog';
import { credentialType, type LakebaseCredentialOutputs } from '../../src/resources/databricks/credential';
import { databaseType, type LakebaseDatabaseOutputs } from '../../src/resources/databricks/database';
import { endpointType, type LakebaseEndpointOutputs } from '../../src/resources/databricks/endpoint';
import { projectType, type LakebaseProjectOutputs } from '../../src/resources/databricks/project';
import { roleType, type LakebaseRoleOutputs } from '../../src/resources/databricks/role';
import { syncedTableType, type LakebaseSyncedTableOutputs } from '../../src/resources/databricks/synced-table';
import type { Duration } from '../core/duration';
import { ManagedResource, type ManagedResourceOptions } from '../core/managed-resource';
import type { DatabricksWorkspace } from './workspace';

/** Options every Lakebase construct accepts besides the common ones. */
export interface LakebaseResourceOptions extends ManagedResourceOptions {
  /**
   * Take over an existing object with the same name (it is updated to match the code) instead of
   * failing. Objects the service makes by itself (a project's `production` branch, a branch's
   * `primary` endpoint, its owner role and `databricks-postgres` database) are always taken over.
   * @default false
   */
  readonly replaceExisting?: boolean;
}

/** Autoscaling and suspension of an endpoint (compute). */
export interface EndpointSettings {
  /** Smallest size, in compute units (≥ 0.5). @default - the service's (1) */
  readonly minCu?: number;
  /** Largest size, in compute units (≤ 64, at most 16 above `minCu`). @default - the service's (1) */
  readonly maxCu?: number;
  /** Idle time before the endpoint suspends (60 s to 7 days). @default - the service's (1 day) */
  readonly suspendTimeout?: Duration;
  /** Never suspend. @default false */
  readonly noSuspension?: boolean;
  /** Postgres settings, e.g. `{ log_min_duration_statement: '500' }`. @default - none */
  readonly pgSettings?: Record<string, string>;
}

const settingsProps = (s: EndpointSettings | undefined) =>
  s && { minCu: s.minCu, maxCu: s.maxCu, suspendTimeoutSeconds: s.suspendTimeout?.toSeconds(), noSuspension: s.noSuspension, pgSettings: s.pgSettings };

/** Props of {@link LakebaseProject}. */
export interface LakebaseProjectProps extends LakebaseResourceOptions {
  readonly workspace: DatabricksWorkspace;
  /** 1-63 characters: a lowercase letter, then lowercase letters, digits or `-`. Part of every resource name. */
  readonly projectId: string;
  /** @default - the projectId */
  readonly displayName?: string;
  /** Postgres major version; changing it replaces the project. @default - the service's */
  readonly pgVersion?: number;
  /** How far back point-in-time branching reaches (2-35 days). @default - the service's (7 days) */
  readonly historyRetention?: Duration;
  /** What new endpoints get (a branch's `primary` among them). @default - the service's */
  readonly defaultEndpointSettings?: EndpointSettings;
  /** @default - none */
  readonly customTags?: Record<string, string>;
  /** Allow Postgres password login for password roles. @default false */
  readonly enablePgNativeLogin?: boolean;
  /** @default - none */
  readonly budgetPolicyId?: string;
  /** Delete for good rather than the service's restorable soft delete (with RemovalPolicy.DESTROY). @default false */
  readonly purgeOnDelete?: boolean;
}

/**
 * A Lakebase Autoscaling project: a Postgres service with branches. The service makes its
 * `production` branch; declare a {@link LakebaseBranch} with `branchId: 'production'` to manage it.
 * Retained when removed, unless `removalPolicy` says otherwise.
 */
export class LakebaseProject extends ManagedResource<LakebaseProjectOutputs> {
  readonly workspace: DatabricksWorkspace;
  /** The project's id. */
  readonly projectId: string;

  constructor(scope: Construct, id: string, props: LakebaseProjectProps) {
    super(
      scope,
      id,
      projectType,
      {
        workspace: props.workspace.connection(scope),
        projectId: props.projectId,
        displayName: props.displayName ?? props.projectId,
        pgVersion: props.pgVersion,
        historyRetentionSeconds: props.historyRetention?.toSeconds(),
        defaultEndpointSettings: settingsProps(props.defaultEndpointSettings),
        customTags: props.customTags,
        enablePgNativeLogin: props.enablePgNativeLogin,
        budgetPolicyId: props.budgetPolicyId,
        purgeOnDelete: props.purgeOnDelete,
        replaceExisting: props.replaceExisting,
      },
      props,
    );
    this.workspace = props.workspace;
    this.projectId = props.projectId;
  }

  /** The resource name, `projects/<projectId>` (a deploy-time reference, so users of it wait for it). */
  get name(): string {
    return this.getAttribute('name');
  }

  /** The default branch's resource name. */
  get defaultBranch(): string {
    return this.getAttribute('defaultBranch');
  }
}

/** Props of {@link LakebaseBranch}. */
export interface LakebaseBranchProps extends LakebaseResourceOptions {
  readonly project: LakebaseProject;
  /** 1-63 characters: a lowercase letter, then lowercase letters, digits or `-`. `production` adopts the project's own. */
  readonly branchId: string;
  /** The branch whose data this one starts with; changing it replaces the branch. @default - the project's default branch */
  readonly sourceBranch?: LakebaseBranch;
  /** Start from the source as it was at this log sequence number. @default - its latest */
  readonly sourceBranchLsn?: string;
  /** Start from the source as it was at this time (RFC 3339). @default - its latest */
  readonly sourceBranchTime?: string;
  /** A protected branch cannot be deleted or reset. @default false */
  readonly isProtected?: boolean;
  /** The service deletes the branch this long after creation. @default - never expires */
  readonly ttl?: Duration;
  /** The service deletes the branch at this time (RFC 3339). @default - never expires */
  readonly expireTime?: string;
  /** Delete for good rather than the service's restorable soft delete (with RemovalPolicy.DESTROY). @default false */
  readonly purgeOnDelete?: boolean;
}

/**
 * A copy-on-write branch of a project: it starts with its source branch's data and changes apart
 * from it. The service gives it a `primary` read-write endpoint, an owner role and the
 * `databricks-postgres` database. Retained when removed, unless `removalPolicy` says otherwise.
 */
export class LakebaseBranch extends ManagedResource<LakebaseBranchOutputs> {
  readonly project: LakebaseProject;
  readonly branchId: string;

  constructor(scope: Construct, id: string, props: LakebaseBranchProps) {
    super(
      scope,
      id,
      branchType,
      {
        workspace: props.project.workspace.connection(scope),
        project: props.project.name,
        branchId: props.branchId,
        sourceBranch: props.sourceBranch?.name,
        sourceBranchLsn: props.sourceBranchLsn,
        sourceBranchTime: props.sourceBranchTime,
        isProtected: props.isProtected,
        ttlSeconds: props.ttl?.toSeconds(),
        expireTime: props.expireTime,
        purgeOnDelete: props.purgeOnDelete,
        replaceExisting: props.replaceExisting,
      },
      props,
    );
    this.project = props.project;
    this.branchId = props.branchId;
  }

  get workspace(): DatabricksWorkspace {
    return this.project.workspace;
  }

  /** The resource name, `projects/<p>/branches/<branchId>`. */
  get name(): string {
    return this.getAttribute('name');
  }
}

/** An endpoint's type: one read-write endpoint per branch, any number of read-only ones. */
export type LakebaseEndpointType = 'READ_WRITE' | 'READ_ONLY';

/** Props of {@link LakebaseEndpoint}. */
export interface LakebaseEndpointProps extends LakebaseResourceOptions, EndpointSettings {
  readonly branch: LakebaseBranch;
  /** 1-63 characters: a lowercase letter, then lowercase letters, digits or `-`. `primary` adopts the branch's own read-write endpoint. */
  readonly endpointId: string;
  /** Changing it replaces the endpoint. @default - READ_WRITE for `primary`, READ_ONLY otherwise */
  readonly endpointType?: LakebaseEndpointType;
  /** Refuse connections (and suspend). @default false */
  readonly disabled?: boolean;
  /** High availability: this many computes (≥ 1). @default - one */
  readonly computes?: number;
  /** Let read-only queries use the secondaries (with `computes` > 1). @default false */
  readonly enableReadableSecondaries?: boolean;
}

/**
 * A compute endpoint of a branch: its `host` (port 5432) is where clients connect. Autoscaling
 * limits, suspension, settings and `disabled` change in place.
 */
export class LakebaseEndpoint extends ManagedResource<LakebaseEndpointOutputs> {
  readonly branch: LakebaseBranch;
  readonly endpointId: string;

  constructor(scope: Construct, id: string, props: LakebaseEndpointProps) {
    super(
      scope,
      id,
      endpointType,
      {
        workspace: props.branch.workspace.connection(scope),
        branch: props.branch.name,
        endpointId: props.endpointId,
        endpointType: props.endpointType ?? (props.endpointId === 'primary' ? 'READ_WRITE' : 'READ_ONLY'),
        ...settingsProps(props),
        disabled: props.disabled,
        group: props.computes === undefined ? undefined : { min: props.computes, max: props.computes, enableReadableSecondaries: props.enableReadableSecondaries },
        replaceExisting: props.replaceExisting,
      },
      props,
    );
    this.branch = props.branch;
    this.endpointId = props.endpointId;
  }

  get workspace(): DatabricksWorkspace {
    return this.branch.workspace;
  }

  /** The resource name. */
  get name(): string {
    return this.getAttribute('name');
  }

  /** The host name clients connect to (with TLS). */
  get host(): string {
    return this.getAttribute('host');
  }

  /** The port: 5432. */
  get port(): number {
    return this.getNumberAttribute('port');
  }
}

/** A Lakebase role made here ({@link LakebaseRole}) or elsewhere ({@link LakebaseRole.fromRoleId}). */
export interface ILakebaseRole extends Construct {
  /** The role's resource name. */
  readonly name: string;
  /** The Postgres role name. */
  readonly postgresRole: string;
}

/** Props of {@link LakebaseRole}. */
export interface LakebaseRoleProps extends LakebaseResourceOptions {
  readonly branch: LakebaseBranch;
  /** 4-63 characters: a lowercase letter, then lowercase letters, digits or `-`. */
  readonly roleId: string;
  /** The Postgres role name: for a managed identity, the user's email, the application id or the group name. Changing it replaces the role. */
  readonly postgresRole: string;
  /** A Databricks identity the role stands for. @default - a plain Postgres role */
  readonly identityType?: 'USER' | 'SERVICE_PRINCIPAL' | 'GROUP';
  /** @default - OAuth for identities, a SCRAM password for plain roles */
  readonly authMethod?: 'LAKEBASE_OAUTH_V1' | 'PG_PASSWORD_SCRAM_SHA_256' | 'NO_LOGIN';
  /** @default - none */
  readonly membershipRoles?: Array<'DATABRICKS_SUPERUSER'>;
  /** Postgres attributes, changed one by one in place. @default - all false */
  readonly attributes?: { readonly createdb?: boolean; readonly createrole?: boolean; readonly bypassrls?: boolean };
}

/** A Postgres role on a branch, managed through Lakebase. */
export class LakebaseRole extends ManagedResource<LakebaseRoleOutputs> implements ILakebaseRole {
  /** A role this stack does not manage (the branch's owner role, or one made elsewhere), to own databases. */
  static fromRoleId(scope: Construct, id: string, attributes: { readonly branch: LakebaseBranch; readonly roleId: string; readonly postgresRole: string }): ILakebaseRole {
    return new ImportedRole(scope, id, attributes.branch, attributes.roleId, attributes.postgresRole);
  }

  readonly branch: LakebaseBranch;

  constructor(scope: Construct, id: string, props: LakebaseRoleProps) {
    super(
      scope,
      id,
      roleType,
      {
        workspace: props.branch.workspace.connection(scope),
        branch: props.branch.name,
        roleId: props.roleId,
        postgresRole: props.postgresRole,
        identityType: props.identityType,
        authMethod: props.authMethod,
        membershipRoles: props.membershipRoles,
        attributes: props.attributes,
        replaceExisting: props.replaceExisting,
      },
      props,
    );
    this.branch = props.branch;
  }

  /** The resource name. */
  get name(): string {
    return this.getAttribute('name');
  }

  /** The Postgres role name (a deploy-time reference: resources that log in as it wait for it). */
  get postgresRole(): string {
    return this.getAttribute('postgresRole');
  }
}

class ImportedRole extends Construct implements ILakebaseRole {
  readonly name: string;
  constructor(scope: Construct, id: string, branch: LakebaseBranch, roleId: string, readonly postgresRole: string) {
    super(scope, id);
    this.name = `${branch.name}/roles/${roleId}`;
  }
}

/** Props of {@link LakebaseDatabase}. */
export interface LakebaseDatabaseProps extends LakebaseResourceOptions {
  readonly branch: LakebaseBranch;
  /** 4-63 characters: a lowercase letter, then lowercase letters, digits or `-`. `databricks-postgres` adopts the branch's own. */
  readonly databaseId: string;
  /** The Postgres database name; changing it renames the database. @default - the databaseId with `-` as `_` */
  readonly postgresDatabase?: string;
  /** The owner; changing it changes the owner in place. */
  readonly owner: ILakebaseRole;
}

/** A Postgres database on a branch. Retained when removed, unless `removalPolicy` says otherwise. */
export class LakebaseDatabase extends ManagedResource<LakebaseDatabaseOutputs> {
  readonly branch: LakebaseBranch;

  constructor(scope: Construct, id: string, props: LakebaseDatabaseProps) {
    const postgresDatabase = props.postgresDatabase ?? props.databaseId.replace(/-/g, '_');
    super(
      scope,
      id,
      databaseType,
      {
        workspace: props.branch.workspace.connection(scope),
        branch: props.branch.name,
        databaseId: props.databaseId,
        postgresDatabase,
        role: props.owner.name,
        replaceExisting: props.replaceExisting,
      },
      props,
    );
    this.branch = props.branch;
  }

  /** The resource name. */
  get name(): string {
    return this.getAttribute('name');
  }

  /** The Postgres database name (a deploy-time reference: resources that use it wait for it). */
  get postgresDatabase(): string {
    return this.getAttribute('postgresDatabase');
  }
}

/** Props of {@link LakebaseCatalog}. */
export interface LakebaseCatalogProps extends LakebaseResourceOptions {
  /** The database to register. */
  readonly database: LakebaseDatabase;
  /** The Unity Catalog name: letters, digits and underscores. */
  readonly catalogId: string;
  /** @default false */
  readonly createDatabaseIfMissing?: boolean;
}

/** Registers a branch's database in Unity Catalog (a database can have one). Any change replaces it. */
export class LakebaseCatalog extends ManagedResource<LakebaseCatalogOutputs> {
  readonly catalogId: string;

  constructor(scope: Construct, id: string, props: LakebaseCatalogProps) {
    super(
      scope,
      id,
      catalogType,
      {
        workspace: props.database.branch.workspace.connection(scope),
        catalogId: props.catalogId,
        branch: props.database.branch.name,
        postgresDatabase: props.database.postgresDatabase,
        createDatabaseIfMissing: props.createDatabaseIfMissing,
        replaceExisting: props.replaceExisting,
      },
      props,
    );
    this.catalogId = props.catalogId;
  }

  get name(): string {
    return this.getAttribute('name');
  }
}

/** Props of {@link LakebaseSyncedTable}. */
export interface LakebaseSyncedTableProps extends LakebaseResourceOptions {
  /** The database the table is written to. */
  readonly database: LakebaseDatabase;
  /** The Postgres table's three-part name, `catalog.schema.table`. */
  readonly syncedTableId: string;
  /** The Unity Catalog (Delta) table to copy, `catalog.schema.table`. */
  readonly sourceTableFullName: string;
  readonly primaryKeyColumns: string[];
  /** @default - none */
  readonly timeseriesKey?: string;
  /** TRIGGERED and CONTINUOUS need Change Data Feed on the source. */
  readonly schedulingPolicy: 'SNAPSHOT' | 'TRIGGERED' | 'CONTINUOUS';
  /** @default true */
  readonly createDatabaseObjectsIfMissing?: boolean;
  /** Run in an existing pipeline. @default - a new pipeline (`newPipeline`) */
  readonly existingPipelineId?: string;
  /** Where a new pipeline keeps its state. @default - none */
  readonly newPipeline?: { readonly storageCatalog: string; readonly storageSchema: string; readonly budgetPolicyId?: string };
  /** The catalog the table's name is in, when it is a Lakebase catalog, so the table waits for it. @default - none */
  readonly catalog?: LakebaseCatalog;
}

/** A Postgres table kept in sync with a Delta table; the deploy waits until it is ONLINE. Any change replaces it. */
export class LakebaseSyncedTable extends ManagedResource<LakebaseSyncedTableOutputs> {
  constructor(scope: Construct, id: string, props: LakebaseSyncedTableProps) {
    if (props.catalog && !props.syncedTableId.startsWith(`${props.catalog.catalogId}.`)) {
      throw new Error(`${scope.node.path}/${id}: syncedTableId = '${props.syncedTableId}' is not in catalog '${props.catalog.catalogId}'; name it '${props.catalog.catalogId}.<schema>.<table>', or leave catalog out`);
    }
    super(
      scope,
      id,
      syncedTableType,
      {
        workspace: props.database.branch.workspace.connection(scope),
        syncedTableId: props.syncedTableId,
        sourceTableFullName: props.sourceTableFullName,
        primaryKeyColumns: props.primaryKeyColumns,
        timeseriesKey: props.timeseriesKey,
        schedulingPolicy: props.schedulingPolicy,
        branch: props.database.branch.name,
        postgresDatabase: props.database.postgresDatabase,
        createDatabaseObjectsIfMissing: props.createDatabaseObjectsIfMissing,
        existingPipelineId: props.existingPipelineId,
        newPipelineSpec: props.newPipeline,
        catalog: props.catalog?.name,
        replaceExisting: props.replaceExisting,
      },
      props,
    );
  }

  get name(): string {
    return this.getAttribute('name');
  }

  /** Its provisioning state, e.g. `SYNCED_TABLE_ONLINE`. */
  get state(): string {
    return this.getAttribute('state');
  }
}

/** Props of {@link LakebaseCredential}. */
export interface LakebaseCredentialProps extends ManagedResourceOptions {
  readonly endpoint: LakebaseEndpoint;
  /** How long each password is valid (5-60 minutes). @default Duration.hours(1) */
  readonly ttl?: Duration;
  /** A password with less than this left is replaced on the next deploy. @default Duration.minutes(15) */
  readonly renewBefore?: Duration;
  /**
   * Who logs in: the credential is generated as this workspace connection's identity (a service
   * principal of its own, say, for a crawler), whose Postgres role must exist on the branch.
   * @default - the endpoint's workspace, so the identity pgstacks deploys with
   */
  readonly identity?: DatabricksWorkspace;
  /** The Lakebase role `identity` logs in as, when this stack makes it: the credential waits for it. @default - none */
  readonly role?: ILakebaseRole;
}

/**
 * A short-lived Postgres login on an endpoint for the identity pgstacks deploys with, or another
 * (`identity`) (`generate_database_credential`), to pass to pgstacks resources that log in to Lakebase: its
 * `username` and `password` (a secret output, never printed). Renewed by the deploys that find it
 * close to expiry.
 */
export class LakebaseCredential extends ManagedResource<LakebaseCredentialOutputs> {
  readonly endpoint: LakebaseEndpoint;

  constructor(scope: Construct, id: string, props: LakebaseCredentialProps) {
    super(
      scope,
      id,
      credentialType,
      {
        workspace: (props.identity ?? props.endpoint.workspace).connection(scope),
        endpoint: props.endpoint.name,
        role: props.role?.name,
        ttlSeconds: props.ttl?.toSeconds(),
        renewBeforeSeconds: props.renewBefore?.toSeconds(),
      },
      props,
    );
    this.endpoint = props.endpoint;
  }

  /** The Postgres user: the service principal's application id, or the token owner's user name. */
  get username(): string {
    return this.getAttribute('username');
  }

  /** The password (secret output). */
  get password(): string {
    return this.getAttribute('password');
  }
}
