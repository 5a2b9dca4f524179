/**
 * What the Cognite service shares between its constructs and its emulator: the environment
 * variables a deploy reads (which `pgstacks sandbox` prints) and the default project. Constants
 * only, so both sides can import it without importing each other.
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
