/**
 * What the Atlan service's constructs, resource types, client and emulator share: the environment
 * variables a deploy reads (which `pgstacks sandbox` prints) and the fixed vocabularies of Atlan's
 * Postgres crawler (the legacy package workflows and the newer App API). Constants only, so each
 * side can import it without importing the others.
 */
export const ATLAN_ENVIRONMENT = {
  /** The tenant's base URL, with no path, e.g. `https://acme.atlan.com`. */
  baseUrl: 'ATLAN_BASE_URL',
  /** An API key (sent as `Authorization: Bearer <key>`): read at deploy time, never synthesized. */
  apiKey: 'ATLAN_API_KEY',
} as const;

/** Path prefixes below the base URL: Heracles (service APIs) and Atlas (metastore APIs). */
export const ATLAN_PATHS = { service: '/api/service', meta: '/api/meta' } as const;

/** Argo phases of a legacy workflow run; the last three are terminal. */
export const ATLAN_RUN_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Error'] as const;
export type AtlanRunPhase = (typeof ATLAN_RUN_PHASES)[number];
export const ATLAN_TERMINAL_RUN_PHASES: readonly AtlanRunPhase[] = ['Succeeded', 'Failed', 'Error'];

/** Statuses of an App API run; the last five are terminal. */
export const ATLAN_APP_RUN_STATUSES = ['Pending', 'Running', 'Paused', 'Succeeded', 'Failed', 'Stopped', 'Terminated', 'Skipped'] as const;
export type AtlanAppRunStatus = (typeof ATLAN_APP_RUN_STATUSES)[number];
export const ATLAN_TERMINAL_APP_RUN_STATUSES: readonly AtlanAppRunStatus[] = ['Succeeded', 'Failed', 'Stopped', 'Terminated', 'Skipped'];

/** The legacy packages pgstacks drives: their WorkflowTemplate refs (and workflow-name prefixes) and package names. */
export const ATLAN_PACKAGES = {
  postgres: { prefix: 'atlan-postgres', name: '@atlan/postgres' },
  connectionDelete: { prefix: 'atlan-connection-delete', name: '@atlan/connection-delete' },
} as const;

/** The App API's Postgres crawler: app id and entrypoint. */
export const ATLAN_POSTGRES_APP = { appId: 'postgres-crawler', entrypoint: 'crawler' } as const;

/** `connectorName` of Postgres connections, and the connection qualified name's middle segment. */
export const ATLAN_CONNECTOR_TYPE = 'postgres';
/** The connector configuration a Postgres credential names. */
export const ATLAN_CONNECTOR_CONFIG_NAME = 'atlan-connectors-postgres';

/** Credential `authType`s of the Postgres connector. */
export const ATLAN_AUTH_TYPES = ['basic', 'iam_user', 'iam_role'] as const;
export type AtlanAuthType = (typeof ATLAN_AUTH_TYPES)[number];

/** `extraction-method` values: crawl the database, or read files a self-run extractor left in S3. */
export const ATLAN_EXTRACTION_METHODS = ['direct', 's3', 'agent'] as const;

/** `delete-type` of the connection-delete package. */
export const ATLAN_DELETE_TYPES = ['SOFT', 'PURGE'] as const;

/** Workspace roles every tenant has; `$admin` and `$api-token-default-access` may use the `workflows` paths. */
export const ATLAN_ROLES = ['$admin', '$member', '$guest', '$api-token-default-access'] as const;
export type AtlanRoleName = (typeof ATLAN_ROLES)[number];
/** Roles whose holders call `workflows...`; everyone else calls `package-workflows...`. */
export const ATLAN_WORKFLOW_ROLES: readonly AtlanRoleName[] = ['$admin', '$api-token-default-access'];

/** Which workflow APIs a tenant serves: the legacy package workflows, the App API, or both. */
export const ATLAN_APIS = ['workflow', 'app', 'both'] as const;
export type AtlanApis = (typeof ATLAN_APIS)[number];

/** A connection qualified name: `default/postgres/<epoch seconds>`. */
export const ATLAN_CONNECTION_QUALIFIED_NAME = /^default\/postgres\/\d+$/;
