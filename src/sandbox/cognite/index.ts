/**
 * The Cognite Data Fusion emulator: the PostgreSQL Gateway 2.0 (users and tables), the sessions
 * API that feeds it nonces, token/inspect, RAW (where gateway raw tables' rows live), and an
 * Entra-style token endpoint, for a fixed list of projects. Paths and bodies follow the real API
 * (shared/reference/cognite-postgres-gateway.md); state lives in the sandbox's Postgres.
 */
import { COGNITE_ENVIRONMENT } from '../../services/cognite';
import type { Clock } from '../clock';
import { defineEmulator } from '../emulator';
import { projectList } from './projects';
import type { Service } from '../http';
import type { PostgresServer } from '../postgres';
import { CogniteAuth, DEFAULT_CAPABILITIES, type CogniteCapability } from './auth';
import { cdfErrorBody, cdfInvalidInput, clientErrorFromPostgres } from './errors';
import { loginService } from './login';
import { rawRoutes } from './raw';
import { migrateRawStore } from './raw-store';
import { sessionRoutes } from './sessions';
import { migrate } from './store';
import { tableRoutes } from './tables';
import { reconnectGatewaysToRaw, SpareDatabases } from './userdb';
import { userRoutes } from './users';

export type { CogniteCapability } from './auth';
export { DEFAULT_PROJECTS } from './projects';

export interface CogniteSandbox {
  /** `${url}/cognite`: project paths are `${baseUrl}/api/v1/projects/{project}/...`. */
  readonly baseUrl: string;
  /** `${url}/login/sandbox/oauth2/v2.0/token` (Entra-style client credentials). */
  readonly tokenUrl: string;
  /** The projects the emulator serves, sorted; requests to any other are refused with a 403. */
  readonly projects: readonly string[];
  readonly defaultClient: { readonly clientId: string; readonly clientSecret: string };
  /** Registers (or replaces) an OAuth client; `capabilities` defaults to the default client's. */
  addClient(client: { clientId: string; clientSecret: string; capabilities?: CogniteCapability[] }): Promise<void>;
}

export interface CogniteOptions {
  /** The sandbox's base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly tokenTtlSeconds: number;
  readonly nonceTtlSeconds: number;
  readonly clock: Clock;
  /** Valid project names (see `projectList`). */
  readonly projects: readonly string[];
}

/** Sets up state and returns the emulator's services (mount both) and its test-facing handle. */
export async function startCognite(pg: PostgresServer, options: CogniteOptions): Promise<{ services: Service[]; sandbox: CogniteSandbox; stop(): Promise<void> }> {
  await migrate(pg.state);
  const bridge = { ...(await migrateRawStore(pg)), port: pg.port };
  await reconnectGatewaysToRaw(pg, bridge);
  const spares = new SpareDatabases(pg, bridge);
  spares.fillLater();
  const { clock, projects } = options;
  const auth = new CogniteAuth(pg, { tokenTtlSeconds: options.tokenTtlSeconds, clock, projects });
  const defaultClient = await auth.defaultClient();

  const cognite: Service = {
    prefix: '/cognite',
    routes: [
      { method: 'GET', path: '/api/v1/token/inspect', handler: (ctx) => auth.inspect(ctx) },
      ...sessionRoutes(pg, auth, { nonceTtlSeconds: options.nonceTtlSeconds, clock }),
      ...userRoutes(pg, auth, { host: pg.host, port: pg.port, clock, bridge, spares }),
      ...tableRoutes(pg, auth, clock),
      ...rawRoutes(pg, auth, clock),
    ],
    errorBody: cdfErrorBody,
    // The gateway's routes answer 422 instead (gatewayRoute).
    invalidInput: cdfInvalidInput,
    translateError: clientErrorFromPostgres,
  };

  return {
    services: [cognite, loginService(auth)],
    stop: () => spares.stop(),
    sandbox: {
      baseUrl: `${options.url}/cognite`,
      tokenUrl: `${options.url}/login/sandbox/oauth2/v2.0/token`,
      projects,
      defaultClient: { clientId: defaultClient.clientId, clientSecret: defaultClient.clientSecret },
      async addClient(client) {
        if (client.clientId === defaultClient.clientId) throw new Error(`'${client.clientId}' is the default client; pick another clientId`);
        await auth.saveClient({ clientId: client.clientId, clientSecret: client.clientSecret, capabilities: client.capabilities ?? DEFAULT_CAPABILITIES });
      },
    },
  };
}

/** The Cognite emulator's options (part of the sandbox options). */
export interface CogniteEmulatorOptions {
  /** Lifetime of access tokens from the Cognite token endpoint. @default 3600 */
  readonly cogniteTokenTtlSeconds?: number;
  /** Lifetime of a CDF session's nonce. @default 60 */
  readonly cogniteNonceTtlSeconds?: number;
  /**
   * The CDF projects the Cognite emulator serves (lowercase letters, digits and hyphens); a
   * request to any other project is refused with CDF's 403. @default ['acme']
   */
  readonly cogniteProjects?: readonly string[];
}

export const cogniteEmulator = defineEmulator<CogniteEmulatorOptions, CogniteSandbox>({
  name: 'cognite',
  validate: (options) => void projectList(options.cogniteProjects),
  async start({ url, pg, clock, options }) {
    const projects = projectList(options.cogniteProjects);
    const { services, sandbox, stop } = await startCognite(pg, {
      url,
      tokenTtlSeconds: options.cogniteTokenTtlSeconds ?? 3600,
      nonceTtlSeconds: options.cogniteNonceTtlSeconds ?? 60,
      clock,
      projects,
    });
    return {
      services,
      handle: sandbox,
      stop,
      env: () => ({
        [COGNITE_ENVIRONMENT.baseUrl]: sandbox.baseUrl,
        [COGNITE_ENVIRONMENT.tokenUrl]: sandbox.tokenUrl,
        [COGNITE_ENVIRONMENT.project]: projects[0],
        [COGNITE_ENVIRONMENT.clientId]: sandbox.defaultClient.clientId,
        [COGNITE_ENVIRONMENT.clientSecret]: sandbox.defaultClient.clientSecret,
      }),
    };
  },
});
