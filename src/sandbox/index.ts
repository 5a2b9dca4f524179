/**
 * The pgstacks sandbox: local emulations of the service APIs pgstacks deploys to, on 127.0.0.1,
 * backed by a real PostgreSQL (DESIGN.md §4). Tests and examples deploy against it with no cloud
 * account; it enforces auth, answers in the services' error shapes and can inject faults.
 */
import * as path from 'node:path';
import { systemClock, type Clock } from './clock';
import { startCognite, type CogniteSandbox } from './cognite';
import { projectList } from './cognite/projects';
import { SandboxServer, type FaultInjector, type RequestRecord } from './http';
import { startPostgres } from './postgres';

export { ManualClock, systemClock, type Clock } from './clock';
export { DEFAULT_PROJECTS, type CogniteCapability, type CogniteSandbox } from './cognite';
export type { AppliedFault, FaultInjector, FaultRule, RequestRecord } from './http';

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
  /**
   * The CDF projects the Cognite emulator serves (lowercase letters, digits and hyphens); a
   * request to any other project is refused with CDF's 403. @default ['acme']
   */
  readonly cogniteProjects?: readonly string[];
  /**
   * The emulators' time: token and nonce expiry and the timestamps they report. Tests pass a
   * `ManualClock` and advance it instead of sleeping. @default systemClock (Date.now)
   */
  readonly clock?: Clock;
  /** The limit on a request body, before and after decompression. @default 16 MiB */
  readonly maxBodyBytes?: number;
}

export interface Sandbox {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The superuser of the sandbox's PostgreSQL. */
  readonly postgres: { readonly host: string; readonly port: number; readonly user: string; readonly password: string };
  readonly cognite: CogniteSandbox;
  readonly faults: FaultInjector;
  /** Every request the sandbox received, oldest first (the latest 100 000); empty it with `requests.length = 0`. */
  readonly requests: RequestRecord[];
  /**
   * Environment variables a deploy against this sandbox needs: `PGSTACKS_SANDBOX_URL`,
   * `CDF_BASE_URL`, `CDF_TOKEN_URL`, `CDF_CLIENT_ID`, `CDF_CLIENT_SECRET`.
   */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

/** Starts Postgres and the emulators; a bad option is refused before anything starts. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const projects = projectList(options.cogniteProjects);
  const dataDir = path.resolve(options.dataDir ?? path.join('.pgstacks', 'sandbox'));
  const pg = await startPostgres({ dir: dataDir, port: options.postgresPort ?? 4611, verbose: options.verbose });
  const server = new SandboxServer({ maxBodyBytes: options.maxBodyBytes });
  try {
    const port = await server.listen(options.port ?? 4610);
    const url = `http://127.0.0.1:${port}`;
    const cognite = await startCognite(pg, {
      url,
      tokenTtlSeconds: options.cogniteTokenTtlSeconds ?? 3600,
      nonceTtlSeconds: options.cogniteNonceTtlSeconds ?? 60,
      clock: options.clock ?? systemClock,
      projects,
    });
    for (const service of cognite.services) server.mount(service);

    let stopped: Promise<void> | undefined;
    return {
      url,
      postgres: { host: pg.host, port: pg.port, user: pg.user, password: pg.password },
      cognite: cognite.sandbox,
      faults: server.faults,
      requests: server.requests,
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
