/**
 * The Cognite Data Fusion emulator: the PostgreSQL Gateway 2.0 (users and tables), the sessions
 * API that feeds it nonces, token/inspect, enough RAW to read what the gateway wrote, and an
 * Entra-style token endpoint. Paths and bodies follow the real API
 * (shared/reference/cognite-postgres-gateway.md); state lives in the sandbox's Postgres.
 */
import { HttpError, type Service } from '../http';
import type { PostgresServer } from '../postgres';
import { CogniteAuth, DEFAULT_CAPABILITIES, loginService, type CogniteCapability } from './auth';
import { rawRoutes } from './raw';
import { sessionRoutes } from './sessions';
import { migrate } from './store';
import { tableRoutes } from './tables';
import { userRoutes } from './users';

export type { CogniteCapability } from './auth';

export interface CogniteSandbox {
  /** `${url}/cognite`: project paths are `${baseUrl}/api/v1/projects/{project}/...`. */
  readonly baseUrl: string;
  /** `${url}/login/sandbox/oauth2/v2.0/token` (Entra-style client credentials). */
  readonly tokenUrl: string;
  readonly defaultClient: { readonly clientId: string; readonly clientSecret: string };
  /** Registers (or replaces) an OAuth client; `capabilities` defaults to the default client's. */
  addClient(client: { clientId: string; clientSecret: string; capabilities?: CogniteCapability[] }): Promise<void>;
}

export interface CogniteOptions {
  /** The sandbox's base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly tokenTtlSeconds: number;
  readonly nonceTtlSeconds: number;
}

/** Sets up state and returns the emulator's services (mount both) and its test-facing handle. */
export async function startCognite(pg: PostgresServer, options: CogniteOptions): Promise<{ services: Service[]; sandbox: CogniteSandbox }> {
  await migrate(pg.state);
  const auth = new CogniteAuth(pg, options.tokenTtlSeconds);
  const defaultClient = await auth.defaultClient();

  const cognite: Service = {
    prefix: '/cognite',
    routes: [
      { method: 'GET', path: '/api/v1/token/inspect', handler: (ctx) => auth.inspect(ctx) },
      ...sessionRoutes(pg, auth, options.nonceTtlSeconds),
      ...userRoutes(pg, auth, { host: pg.host, port: pg.port }),
      ...tableRoutes(pg, auth),
      ...rawRoutes(pg, auth),
    ],
    errorBody: cdfError,
  };

  return {
    services: [cognite, loginService(auth)],
    sandbox: {
      baseUrl: `${options.url}/cognite`,
      tokenUrl: `${options.url}/login/sandbox/oauth2/v2.0/token`,
      defaultClient: { clientId: defaultClient.clientId, clientSecret: defaultClient.clientSecret },
      async addClient(client) {
        if (client.clientId === defaultClient.clientId) throw new Error(`'${client.clientId}' is the default client; pick another clientId`);
        await auth.saveClient({ clientId: client.clientId, clientSecret: client.clientSecret, capabilities: client.capabilities ?? DEFAULT_CAPABILITIES });
      },
    },
  };
}

/** `{"error": {"code", "message", "missing"?, "duplicated"?}}`. */
function cdfError(error: HttpError): unknown {
  const { missing, duplicated } = error.details as { missing?: unknown; duplicated?: unknown };
  return {
    error: {
      code: error.status,
      message: error.message,
      ...(missing !== undefined ? { missing } : {}),
      ...(duplicated !== undefined ? { duplicated } : {}),
    },
  };
}
