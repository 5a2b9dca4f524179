/**
 * What the Databricks service's constructs, resource types, client and emulator share: the
 * environment variables a deploy reads (the standard Databricks names, which `pgstacks sandbox`
 * prints) and Lakebase's fixed rules. Constants only, so each side can import it alone.
 */
export const DATABRICKS_ENVIRONMENT = {
  /** The workspace URL, e.g. `https://acme.cloud.databricks.com`. */
  host: 'DATABRICKS_HOST',
  /** A personal access token (read at deploy time). */
  token: 'DATABRICKS_TOKEN',
  /** A service principal's application id (OAuth M2M). */
  clientId: 'DATABRICKS_CLIENT_ID',
  /** Its OAuth secret (read at deploy time). */
  clientSecret: 'DATABRICKS_CLIENT_SECRET',
} as const;

/**
 * Ids of projects, branches, endpoints, roles and databases: a lowercase letter, then lowercase
 * letters, digits or `-`, not ending in `-`; at most 63 characters (roles and databases at least 4).
 * The pattern the service quotes when it refuses one.
 */
export const LAKEBASE_ID = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Length rules for ids, in characters. Role and database ids are optional (the server makes one). */
export const LAKEBASE_ID_LENGTH = {
  project: { min: 1, max: 63 },
  branch: { min: 1, max: 63 },
  endpoint: { min: 1, max: 63 },
  role: { min: 4, max: 63 },
  database: { min: 4, max: 63 },
} as const;

/** Lakebase endpoints listen on the standard Postgres port. */
export const LAKEBASE_POSTGRES_PORT = 5432;

/** The branch every project starts with (the root branch, default until another is chosen). */
export const LAKEBASE_ROOT_BRANCH = 'production';
/** The read-write endpoint every branch starts with. */
export const LAKEBASE_PRIMARY_ENDPOINT = 'primary';
/** The database every branch starts with: its id and its name in Postgres. */
export const LAKEBASE_DEFAULT_DATABASE = { id: 'databricks-postgres', postgresDatabase: 'databricks_postgres' } as const;

export const ENDPOINT_TYPES = ['ENDPOINT_TYPE_READ_WRITE', 'ENDPOINT_TYPE_READ_ONLY'] as const;
export type EndpointType = (typeof ENDPOINT_TYPES)[number];

export const ENDPOINT_STATES = ['INIT', 'ACTIVE', 'IDLE', 'DEGRADED'] as const;
export const BRANCH_STATES = ['INIT', 'READY', 'ARCHIVED', 'IMPORTING', 'RESETTING', 'DELETED'] as const;

/** How a role logs in. Managed identities default to OAuth tokens, plain roles to a password. */
export const ROLE_AUTH_METHODS = ['LAKEBASE_OAUTH_V1', 'PG_PASSWORD_SCRAM_SHA_256', 'NO_LOGIN'] as const;
export type RoleAuthMethod = (typeof ROLE_AUTH_METHODS)[number];

/** The Databricks identity behind a role; a plain Postgres role has none (`IDENTITY_TYPE_UNSPECIFIED` on the wire). */
export const ROLE_IDENTITY_TYPES = ['USER', 'SERVICE_PRINCIPAL', 'GROUP'] as const;
export type RoleIdentityType = (typeof ROLE_IDENTITY_TYPES)[number];

export const ROLE_MEMBERSHIP_ROLES = ['DATABRICKS_SUPERUSER'] as const;

export const SYNCED_TABLE_SCHEDULING_POLICIES = ['SNAPSHOT', 'TRIGGERED', 'CONTINUOUS'] as const;
export type SyncedTableSchedulingPolicy = (typeof SYNCED_TABLE_SCHEDULING_POLICIES)[number];

/** A synced table's `status.detailed_state`; the `SYNCED_TABLE_ONLINE*` ones serve reads. */
export const SYNCED_TABLE_STATES = [
  'SYNCED_TABLE_PROVISIONING',
  'SYNCED_TABLE_PROVISIONING_PIPELINE_RESOURCES',
  'SYNCED_TABLE_PROVISIONING_INITIAL_SNAPSHOT',
  'SYNCED_TABLE_ONLINE',
  'SYNCED_TABLE_ONLINE_CONTINUOUS_UPDATE',
  'SYNCED_TABLE_ONLINE_NO_PENDING_UPDATE',
  'SYNCED_TABLE_ONLINE_TRIGGERED_UPDATE',
  'SYNCED_TABLE_ONLINE_UPDATING_PIPELINE_RESOURCES',
  'SYNCED_TABLE_ONLINE_PIPELINE_FAILED',
  'SYNCED_TABLE_OFFLINE',
  'SYNCED_TABLE_OFFLINE_FAILED',
] as const;
export type SyncedTableState = (typeof SYNCED_TABLE_STATES)[number];

/** Value ranges the service checks, in the units the wire uses (seconds, compute units). */
export const LAKEBASE_LIMITS = {
  displayNameMaxLength: 256,
  historyRetentionSeconds: { min: 172_800, max: 3_024_000 },
  suspendTimeoutSeconds: { min: 60, max: 604_800 },
  /** Autoscaling limits: min at least 0.5 CU, max at most 64 CU, and at most 16 CU apart. */
  computeUnits: { min: 0.5, max: 64, maxSpread: 16 },
  /** A database credential lives 5 minutes to 1 hour. */
  credentialTtlSeconds: { min: 300, max: 3600 },
  /** `page_size` of list_projects. */
  maxProjectPageSize: 100,
} as const;
