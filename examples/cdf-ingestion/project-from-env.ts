import { CogniteAuth, CogniteProject, Secret } from 'pgstacks';
import type { Construct } from 'constructs';

/**
 * The CDF project to deploy to, from the environment, so the same code deploys to a real cluster
 * or to the pgstacks sandbox (`npx pgstacks sandbox` prints these variables):
 *
 * - `CDF_PROJECT` (default `acme`), and `CDF_CLUSTER` (e.g. `westeurope-1`) or `CDF_BASE_URL`
 * - `CDF_TOKEN_URL`, or `CDF_TENANT_ID` for Entra ID
 * - `CDF_CLIENT_ID`, and `CDF_CLIENT_SECRET`, which is read at deploy time only
 */
export function cogniteProjectFromEnv(scope: Construct, id: string): CogniteProject {
  const env = (name: string, fallback?: string): string => {
    const value = process.env[name] ?? fallback;
    if (value === undefined) throw new Error(`${id}: set ${name} (see examples/cdf-ingestion/project-from-env.ts)`);
    return value;
  };
  const clientId = env('CDF_CLIENT_ID');
  const clientSecret = Secret.fromEnv('CDF_CLIENT_SECRET');
  const auth = process.env.CDF_TENANT_ID
    ? CogniteAuth.entraId({ tenantId: process.env.CDF_TENANT_ID, clientId, clientSecret })
    : CogniteAuth.clientCredentials({ tokenUrl: env('CDF_TOKEN_URL'), clientId, clientSecret });
  return new CogniteProject(scope, id, {
    project: env('CDF_PROJECT', 'acme'),
    ...(process.env.CDF_BASE_URL ? { baseUrl: process.env.CDF_BASE_URL } : { cluster: env('CDF_CLUSTER') }),
    auth,
  });
}
