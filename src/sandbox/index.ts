/**
 * The pgstacks sandbox: local emulations of the service APIs pgstacks deploys to, on 127.0.0.1,
 * backed by a real PostgreSQL (DESIGN.md §4). Tests and examples deploy against it with no cloud
 * account; it enforces auth, answers in the services' error shapes and can inject faults.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { systemClock, type Clock } from './clock';
import type { Emulator, RunningEmulator } from './emulator';
import { loadEmulators, type EmulatorHandles, type EmulatorOptions } from './emulators';
import { SandboxServer, type FaultInjector, type RequestRecord } from './http';
import { startPostgres } from './postgres';

export type { AfterCommitFailure, AtlanSandbox, AtlanSettings } from './atlan';
export { ManualClock, systemClock, type Clock } from './clock';
export { DEFAULT_PROJECTS, type CogniteCapability, type CogniteSandbox } from './cognite';
export type { ClusterLogin, DatabricksSandbox, OperationFailure, OperationKind } from './databricks';
export type { AppliedFault, FaultInjector, FaultRule, RequestRecord } from './http';

export interface SandboxOptions extends EmulatorOptions {
  /** Where Postgres data and sandbox state live; state survives restarts. @default '.pgstacks/sandbox' (resolved against process.cwd()) */
  readonly dataDir?: string;
  /** HTTP port on 127.0.0.1. 0 picks a free port. @default 4610 */
  readonly port?: number;
  /** PostgreSQL port on 127.0.0.1. 0 picks a free port. @default 4611 */
  readonly postgresPort?: number;
  /** Pass Postgres' own log lines through (to stderr). @default false */
  readonly verbose?: boolean;
  /**
   * The emulators' time: token and nonce expiry and the timestamps they report. Tests pass a
   * `ManualClock` and advance it instead of sleeping. @default systemClock (Date.now)
   */
  readonly clock?: Clock;
  /** The limit on a request body, before and after decompression. @default 16 MiB */
  readonly maxBodyBytes?: number;
}

type Handles = EmulatorHandles;

/** The running sandbox, with each emulator's handle under its name (`sandbox.cognite`, `sandbox.databricks`). */
export type Sandbox = Handles & {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The superuser of the sandbox's PostgreSQL. */
  readonly postgres: { readonly host: string; readonly port: number; readonly user: string; readonly password: string };
  readonly faults: FaultInjector;
  /** Every request the sandbox received, oldest first (the latest 100 000); empty it with `requests.length = 0`. */
  readonly requests: RequestRecord[];
  /** Environment variables a deploy against this sandbox needs: `PGSTACKS_SANDBOX_URL` and each emulator's. */
  env(): Record<string, string>;
  stop(): Promise<void>;
};

/** Starts Postgres and the emulators; a bad option is refused before anything starts. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const emulators = loadEmulators() as Array<readonly [string, Emulator<SandboxOptions, unknown>]>;
  for (const [, emulator] of emulators) emulator.validate?.(options);
  await requireFreePort(options.port ?? 4610, 'HTTP', '--port <n> or PGSTACKS_SANDBOX_PORT');
  await requireFreePort(options.postgresPort ?? 4611, 'PostgreSQL', '--postgres-port <n> or PGSTACKS_SANDBOX_POSTGRES_PORT');
  const dataDir = path.resolve(options.dataDir ?? path.join('.pgstacks', 'sandbox'));
  const pg = await startPostgres({ dir: dataDir, port: options.postgresPort ?? 4611, verbose: options.verbose });
  const server = new SandboxServer({ maxBodyBytes: options.maxBodyBytes });
  const running: Array<readonly [string, RunningEmulator<unknown>]> = [];
  try {
    const port = await server.listen(options.port ?? 4610);
    const url = `http://127.0.0.1:${port}`;
    for (const [name, emulator] of emulators) {
      const started = await emulator.start({ url, dataDir, pg, clock: options.clock ?? systemClock, options });
      for (const service of started.services) server.mount(service);
      running.push([name, started] as const);
    }
    let stopped: Promise<void> | undefined;
    return {
      ...(Object.fromEntries(running.map(([name, started]) => [name, started.handle])) as Handles),
      url,
      postgres: { host: pg.host, port: pg.port, user: pg.user, password: pg.password },
      faults: server.faults,
      requests: server.requests,
      env: () => Object.assign({ PGSTACKS_SANDBOX_URL: url }, ...running.map(([, started]) => started.env())),
      stop: () =>
        (stopped ??= (async () => {
          await server.close();
          // Each emulator's own processes go first: they may still use the state database.
          for (const [, started] of [...running].reverse()) await started.stop?.().catch(() => undefined);
          await pg.stop();
        })()),
    };
  } catch (error) {
    await server.close().catch(() => undefined);
    for (const [, started] of [...running].reverse()) await started.stop?.().catch(() => undefined);
    await pg.stop().catch(() => undefined);
    throw error;
  }
}

/** Refuses a busy port before anything starts, naming how to choose another. */
async function requireFreePort(port: number, what: string, fix: string): Promise<void> {
  if (port === 0) return;
  const server = net.createServer();
  const busy = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(true));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
  });
  if (busy) throw new Error(`sandbox: port ${port} (${what}) on 127.0.0.1 is in use, perhaps by another sandbox; choose another with ${fix} (0 picks a free one)`);
}
