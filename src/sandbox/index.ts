/**
 * The pgstacks sandbox: local emulations of the service APIs pgstacks deploys to, on 127.0.0.1,
 * backed by a real PostgreSQL (DESIGN.md §4). Tests and examples deploy against it with no cloud
 * account; it enforces auth, answers in the services' error shapes and can inject faults.
 */
import * as path from 'node:path';
import { startCognite, type CogniteSandbox } from './cognite';
import { Faults, SandboxServer, type FaultInjector } from './http';
import { startPostgres } from './postgres';

export type { CogniteCapability, CogniteSandbox } from './cognite';
export type { AppliedFault, FaultInjector, FaultRule } from './http';

export interface SandboxOptions {
  /** Where Postgres data and sandbox state live; state survives restarts. @default '.pgstacks/sandbox' (resolved against process.cwd()) */
  readonly dataDir?: string;
  /** HTTP port on 127.0.0.1. 0 picks a free port. @default 4610 */
  readonly port?: number;
  /** PostgreSQL port on 127.0.0.1. 0 picks a free port. @default 4611 */
  readonly postgresPort?: number;
  /** Pass Postgres' own log lines through (to stderr). @default false */
  readonly verbose?: boolean;
  /** Lifetime of access tokens from the Cognite token endpoint. @default 3600 */
  readonly cogniteTokenTtlSeconds?: number;
  /** Lifetime of a CDF session's nonce. @default 60 */
  readonly cogniteNonceTtlSeconds?: number;
}

export interface Sandbox {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The superuser of the sandbox's PostgreSQL. */
  readonly postgres: { readonly host: string; readonly port: number; readonly user: string; readonly password: string };
  readonly cognite: CogniteSandbox;
  readonly faults: FaultInjector;
  /**
   * Environment variables a deploy against this sandbox needs: `PGSTACKS_SANDBOX_URL`,
   * `CDF_BASE_URL`, `CDF_TOKEN_URL`, `CDF_CLIENT_ID`, `CDF_CLIENT_SECRET`.
   */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const dataDir = path.resolve(options.dataDir ?? path.join('.pgstacks', 'sandbox'));
  const pg = await startPostgres({ dir: dataDir, port: options.postgresPort ?? 4611, verbose: options.verbose });
  const server = new SandboxServer(new Faults());
  try {
    const port = await server.listen(options.port ?? 4610);
    const url = `http://127.0.0.1:${port}`;
    const cognite = await startCognite(pg, {
      url,
      tokenTtlSeconds: options.cogniteTokenTtlSeconds ?? 3600,
      nonceTtlSeconds: options.cogniteNonceTtlSeconds ?? 60,
    });
    for (const service of cognite.services) server.mount(service);

    let stopped: Promise<void> | undefined;
    return {
      url,
      postgres: { host: pg.host, port: pg.port, user: pg.user, password: pg.password },
      cognite: cognite.sandbox,
      faults: server.faults,
      env: () => ({
        PGSTACKS_SANDBOX_URL: url,
        CDF_BASE_URL: cognite.sandbox.baseUrl,
        CDF_TOKEN_URL: cognite.sandbox.tokenUrl,
        CDF_CLIENT_ID: cognite.sandbox.defaultClient.clientId,
        CDF_CLIENT_SECRET: cognite.sandbox.defaultClient.clientSecret,
      }),
      stop: () =>
        (stopped ??= (async () => {
          await server.close();
          await pg.stop();
        })()),
    };
  } catch (error) {
    await server.close().catch(() => undefined);
    await pg.stop().catch(() => undefined);
    throw error;
  }
}
