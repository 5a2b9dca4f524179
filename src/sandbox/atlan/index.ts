/**
 * The Atlan emulator: one tenant at the root of the sandbox (`/api/service` for Heracles,
 * `/api/meta` for Atlas, as on `https://<tenant>.atlan.com`), serving what drives the Postgres
 * crawler: API-key auth, whoami, roles, groups and users, credentials, the legacy package
 * workflows and their runs, the App API, and the asset search that finds connections and what
 * crawls found. Crawls really read the Postgres a credential names. Paths and bodies follow the
 * real API as the official clients send and read them; state lives in the sandbox's Postgres.
 */
import { ATLAN_APIS, ATLAN_ENVIRONMENT, ATLAN_PATHS, type AtlanApis, type AtlanRoleName } from '../../services/atlan';
import { defineEmulator } from '../emulator';
import type { Service } from '../http';
import { appRoutes } from './apps';
import { AssetStore, assetRoutes } from './assets';
import type { AtlanContext } from './context';
import { CredentialStore, credentialRoutes } from './credentials';
import { directoryRoutes } from './directory';
import { atlanErrorBody, atlanInvalidInput } from './errors';
import { Gate, type AfterCommitFailure } from './gate';
import { AtlanIdentity, roleByName, serviceAccount } from './identity';
import { RunEngine } from './runs';
import { migrate } from './store';
import { workflowRoutes } from './workflows';

export type { AfterCommitFailure } from './gate';

/** Settings of the tenant that tests may change while the sandbox runs. */
export interface AtlanSettings {
  /** Which workflow APIs the tenant serves; the other answers 404. */
  readonly apis: AtlanApis;
  /** How long a run is Pending before it runs. */
  readonly runPendingSeconds: number;
  /** How long a run is Running before it ends (and the crawl happens). */
  readonly runSeconds: number;
  /** How long a new workflow, run or asset takes to show in search. */
  readonly indexLagSeconds: number;
  /** Requests per minute before 429s (and a minute's block); `undefined` for no limit. */
  readonly rateLimitPerMinute: number | undefined;
}

export interface AtlanSandbox {
  /** `ATLAN_BASE_URL`: the sandbox's URL, with no path (the emulator serves `/api/service` and `/api/meta`). */
  readonly baseUrl: string;
  /** `ATLAN_API_KEY`: the default API key (role `$api-token-default-access`), persisted with the sandbox. */
  readonly apiKey: string;
  /** The tenant's current settings. */
  readonly settings: AtlanSettings;
  /** Changes settings while the sandbox runs (e.g. which APIs it serves, to test detection). */
  configure(settings: Partial<AtlanSettings>): void;
  /**
   * Creates an API key holding `roles` (default `$api-token-default-access`): `$member` makes a
   * "sub-role" caller (the official client then uses `package-workflows`), `$guest` one that may only read.
   */
  addApiKey(options?: { displayName?: string; roles?: readonly AtlanRoleName[] }): Promise<{ token: string; clientId: string; username: string }>;
  /** A workspace role's id, as `GET /api/service/roles` lists it. */
  roleId(name: AtlanRoleName): string;
  /** Arms a failure: the next matching request takes effect, then is answered with a 5xx. */
  failAfterCommit(rule: AfterCommitFailure): void;
  /** Disarms every after-commit failure. */
  clearFailures(): void;
  /** Brings runs up to date with the clock now (requests do this on their own). */
  progressRuns(): Promise<void>;
}

/** The Atlan emulator's options (part of the sandbox options). */
export interface AtlanEmulatorOptions {
  /** Which workflow APIs the tenant serves: `workflow` (legacy), `app`, or `both`. @default 'both' */
  readonly atlanApis?: AtlanApis;
  /** How long a run is Pending, in seconds of the sandbox clock. @default 1 */
  readonly atlanRunPendingSeconds?: number;
  /** How long a run is Running before it ends, in seconds of the sandbox clock. @default 3 */
  readonly atlanRunSeconds?: number;
  /** How long new workflows, runs and assets take to show in search, in seconds. @default 0 */
  readonly atlanIndexLagSeconds?: number;
  /** Requests per minute before the tenant answers 429 (Atlan documents 400). @default no limit */
  readonly atlanRateLimitPerMinute?: number;
}

/** After a stop, a run ends this long later (Argo runs exit handlers first). */
const STOP_GRACE_MS = 1_000;

function checkSettings(settings: Partial<AtlanSettings>): void {
  if (settings.apis !== undefined && !ATLAN_APIS.includes(settings.apis)) throw new Error(`atlanApis must be one of ${ATLAN_APIS.join(', ')}; got '${settings.apis}'`);
  for (const key of ['runPendingSeconds', 'runSeconds', 'indexLagSeconds'] as const) {
    const value = settings[key];
    if (value !== undefined && (!Number.isFinite(value) || value < 0)) throw new Error(`Atlan ${key} must be a number of seconds >= 0; got ${value}`);
  }
  const rate = settings.rateLimitPerMinute;
  if (rate !== undefined && (!Number.isInteger(rate) || rate < 1)) throw new Error(`atlanRateLimitPerMinute must be a positive integer; got ${rate}`);
}

function settingsOf(options: AtlanEmulatorOptions): AtlanSettings {
  return {
    apis: options.atlanApis ?? 'both',
    runPendingSeconds: options.atlanRunPendingSeconds ?? 1,
    runSeconds: options.atlanRunSeconds ?? 3,
    indexLagSeconds: options.atlanIndexLagSeconds ?? 0,
    rateLimitPerMinute: options.atlanRateLimitPerMinute,
  };
}

export const atlanEmulator = defineEmulator<AtlanEmulatorOptions, AtlanSandbox>({
  name: 'atlan',
  validate: (options) => checkSettings(settingsOf(options)),
  async start({ url, pg, clock, options }) {
    await migrate(pg.state);
    let settings = settingsOf(options);
    const identity = new AtlanIdentity(pg, clock);
    const defaultKey = await identity.defaultKey();
    const credentials = new CredentialStore(pg, clock);
    const assets = new AssetStore(pg, clock);
    const runs = new RunEngine(
      pg,
      clock,
      () => ({ pendingMs: settings.runPendingSeconds * 1000, runMs: settings.runSeconds * 1000, stopGraceMs: STOP_GRACE_MS }),
      credentials,
      assets,
    );
    const context: AtlanContext = {
      pg,
      clock,
      identity,
      credentials,
      assets,
      runs,
      indexLagMs: () => settings.indexLagSeconds * 1000,
      apis: () => settings.apis,
    };
    const gate = new Gate(clock, () => settings.rateLimitPerMinute, () => runs.progress());
    const service = (prefix: string, routes: Service['routes']): Service => ({
      prefix,
      routes: gate.wrap(routes),
      errorBody: atlanErrorBody,
      invalidInput: atlanInvalidInput,
    });
    const heracles = service(ATLAN_PATHS.service, [
      ...directoryRoutes(identity),
      ...credentialRoutes(pg, credentials, identity),
      ...workflowRoutes(context),
      ...appRoutes(context),
    ]);
    const atlas = service(ATLAN_PATHS.meta, assetRoutes(assets, identity, { clock, indexLagMs: context.indexLagMs }));

    const handle: AtlanSandbox = {
      baseUrl: url,
      apiKey: defaultKey.token,
      get settings() {
        return settings;
      },
      configure(changes) {
        checkSettings(changes);
        settings = { ...settings, ...changes };
      },
      async addApiKey(keyOptions = {}) {
        const key = await identity.createKey({ displayName: keyOptions.displayName ?? 'pgstacks-sandbox-key', roles: keyOptions.roles ?? ['$api-token-default-access'] });
        return { token: key.token, clientId: key.clientId, username: serviceAccount(key.clientId) };
      },
      roleId: (name) => {
        const role = roleByName(name);
        if (!role) throw new Error(`unknown Atlan role '${name}'`);
        return role.id;
      },
      failAfterCommit: (rule) => gate.failAfterCommit(rule),
      clearFailures: () => gate.clearFailures(),
      progressRuns: () => runs.progress(),
    };
    return {
      services: [heracles, atlas],
      handle,
      env: () => ({ [ATLAN_ENVIRONMENT.baseUrl]: url, [ATLAN_ENVIRONMENT.apiKey]: defaultKey.token }),
      // A crawl under way still uses the state database: let it finish before Postgres stops.
      stop: () => runs.settled(),
    };
  },
});
