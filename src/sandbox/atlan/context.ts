/** What the Atlan emulator's route modules share: the stores, the run engine and the tenant's settings. */
import type { AtlanApis } from '../../services/atlan';
import type { Clock } from '../clock';
import type { RequestContext } from '../http';
import type { PostgresServer } from '../postgres';
import type { AssetStore } from './assets';
import type { CredentialStore } from './credentials';
import { notFound } from './errors';
import { knownUsernames, type AtlanIdentity, type Caller } from './identity';
import type { Admins } from './packages';
import type { RunEngine } from './runs';

export interface AtlanContext {
  readonly pg: PostgresServer;
  readonly clock: Clock;
  readonly identity: AtlanIdentity;
  readonly credentials: CredentialStore;
  readonly assets: AssetStore;
  readonly runs: RunEngine;
  /** How long a new document takes to show in search. */
  indexLagMs(): number;
  /** Which workflow APIs the tenant serves right now. */
  apis(): AtlanApis;
}

const API_NAMES = { workflow: 'The legacy workflow API (workflows, package-workflows, runs)', app: 'The App API (v1/app, v1/apps)' } as const;

/**
 * A guard for one of the two workflow APIs: the caller first, then whether this tenant serves
 * the API (a 404 if not, as for a path the tenant does not have).
 */
export function apiGuard(context: AtlanContext, api: 'workflow' | 'app', access: 'read' | 'write'): (ctx: RequestContext) => Promise<Caller> {
  const guard = context.identity.guard(access);
  return async (ctx) => {
    const caller = await guard(ctx);
    const apis = context.apis();
    if (apis !== 'both' && apis !== api) {
      throw notFound(`${API_NAMES[api]} is not available on this tenant; it serves ${apis === 'app' ? 'the App API (/api/service/v1/app)' : 'the legacy workflow API (/api/service/workflows)'}`);
    }
    return caller;
  };
}

/** The usernames a connection may name as admins. */
export async function admins(context: AtlanContext): Promise<Admins> {
  return { usernames: await knownUsernames(context.identity) };
}

/** The creator labels of a caller's runs. */
export function creatorOf(caller: Caller): { id: string; username: string } {
  return { id: caller.key.guid, username: caller.username };
}
