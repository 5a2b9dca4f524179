/**
 * What the Cognite service's constructs, resource types, client and emulator share: the
 * environment variables a deploy reads (which `pgstacks sandbox` prints) and the gateway's fixed
 * vocabularies. Constants only, so each side can import it without importing the others.
 */
export const COGNITE_ENVIRONMENT = {
  /** The API base URL, e.g. `https://westeurope-1.cognitedata.com`. */
  baseUrl: 'CDF_BASE_URL',
  /** The OAuth 2.0 token endpoint. */
  tokenUrl: 'CDF_TOKEN_URL',
  /** The project's URL name. */
  project: 'CDF_PROJECT',
  /** The deploying app registration. */
  clientId: 'CDF_CLIENT_ID',
  /** Its secret: read at deploy time, never synthesized. */
  clientSecret: 'CDF_CLIENT_SECRET',
} as const;

/**
 * Tables every gateway user has (PostgreSQL Gateway 2.0); a custom table may not take their names.
 * The list the 2.0 migration notes give; the real set may be larger.
 */
export const GATEWAY_BUILT_IN_TABLES = [
  'assets', 'events', 'extraction_pipeline_runs', 'extraction_pipelines', 'files', 'labels', 'sequences',
  'sequence_rows', 'string_datapoints', 'double_datapoints', 'raw_rows', 'raw_tables',
] as const;

export const GATEWAY_COLUMN_TYPES = [
  'TEXT', 'VARCHAR', 'BOOL', 'BIGINT', 'DOUBLE PRECISION', 'REAL', 'TIMESTAMPTZ', 'JSON',
  'TEXT[]', 'VARCHAR[]', 'BOOL[]', 'BIGINT[]', 'DOUBLE PRECISION[]', 'REAL[]', 'JSON[]', 'BYTEA',
] as const;

export type GatewayColumnType = (typeof GATEWAY_COLUMN_TYPES)[number];

/** The gateway takes 1-10 tables per create, retrieve and delete call. */
export const GATEWAY_TABLES_PER_CALL = 10;
