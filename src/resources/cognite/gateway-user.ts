/**
 * `cognite:gateway-user`: a PostgreSQL Gateway user. CDF generates its username and a password
 * it shows once, and binds it to a session made from a one-minute nonce, so everything happens
 * at deploy time and the password lives only in the state store.
 */
import * as z from 'zod';
import type { ClientCredentials, CogniteClient, CreatedGatewayUser, RequiredCapability } from '../../clients/cognite';
import { defineResourceType, type HandlerContext } from '../../runtime/resource-type';
import { clientCredentialsSchema, cogniteApi, cogniteClient, cogniteProjectSchema, PROJECT_IDENTITY } from './project';

export const gatewayUserSchema = z
  .object({
    project: cogniteProjectSchema,
    /** The identity the gateway acts as: its CDF session is made from these credentials. */
    session: clientCredentialsSchema,
  })
  .strict();

export type GatewayUserProps = z.infer<typeof gatewayUserSchema>;
/** What a gateway user's record holds besides its password. */
export type GatewayUserOutputs = { username: string; host: string; port: number; database: string; sessionId: number };

const need = (name: string, acl: string, action: string): RequiredCapability => ({ name, acl, action });

/** What the deploying identity needs to manage gateway users. */
const DEPLOYER_NEEDS: RequiredCapability[] = [
  need('postgresGateway:READ', 'postgresGatewayAcl', 'READ'),
  need('postgresGateway:WRITE', 'postgresGatewayAcl', 'WRITE'),
  need('session:CREATE', 'sessionsAcl', 'CREATE'),
];

/** The documented minimum for the identity a gateway user acts as. */
const SESSION_NEEDS: RequiredCapability[] = [
  need('postgresGateway:READ', 'postgresGatewayAcl', 'READ'),
  need('postgresGateway:WRITE', 'postgresGatewayAcl', 'WRITE'),
  need('project:list', 'projectsAcl', 'LIST'),
  need('groups:list', 'groupsAcl', 'LIST'),
  need('session:CREATE', 'sessionsAcl', 'CREATE'),
];

const GATEWAY_PORT = 5432;

/** Checks both identities' capabilities and names every one that is missing. */
async function preflight(props: GatewayUserProps, cdf: CogniteClient, ctx: HandlerContext): Promise<void> {
  const { project, session } = props;
  const same = session.clientId === project.credentials.clientId && session.clientSecret === project.credentials.clientSecret;
  const checks: Array<[string, CogniteClient, RequiredCapability[]]> = same
    ? [[project.credentials.clientId, cdf, [...DEPLOYER_NEEDS, ...SESSION_NEEDS]]]
    : [
        [project.credentials.clientId, cdf, DEPLOYER_NEEDS],
        [session.clientId, cogniteClient(project, ctx, session), SESSION_NEEDS],
      ];
  const problems: string[] = [];
  for (const [clientId, client, needs] of checks) {
    const missing = cogniteApi().missingCapabilities(await client.inspectToken(), project.project, needs);
    if (missing.length) problems.push(`client '${clientId}' lacks ${missing.map((m) => m.name).join(', ')}`);
  }
  if (problems.length) {
    throw new Error(
      `missing CDF capabilities in project '${project.project}': ${problems.join('; ')}. ` +
        `Add them to a CDF group the client belongs to (Admin > Groups), then deploy again.`,
    );
  }
}

/** A session for the gateway to act through; its nonce must be used within a minute. */
async function newSession(cdf: CogniteClient, credentials: ClientCredentials, ctx: HandlerContext) {
  const session = await cdf.createSession(credentials);
  ctx.redact(session.nonce);
  return session;
}

/** A connection-level failure: the request may have been carried out although no answer came. */
const isLostResponse = (err: unknown) => err instanceof cogniteApi().LostResponseError;

function created(user: CreatedGatewayUser, ctx: HandlerContext) {
  ctx.redact(user.password);
  return {
    physicalId: user.username,
    outputs: { username: user.username, host: user.host, port: user.port ?? GATEWAY_PORT, database: user.username, sessionId: user.sessionId ?? 0 },
    secretOutputs: { password: user.password },
  };
}

/**
 * Deletes a user an interrupted create made (found by its session) whose password was never seen,
 * so a retry leaves exactly one user. Returns whether there was one.
 */
async function removeUnseenUser(cdf: CogniteClient, sessionId: number, ctx: HandlerContext): Promise<boolean> {
  const orphan = (await cdf.listGatewayUsers()).find((u) => u.sessionId === sessionId);
  if (orphan) {
    await cdf.deleteGatewayUser(orphan.username);
    ctx.log(`deleted gateway user ${orphan.username}, made by an interrupted create whose password was never returned`);
  }
  await cdf.revokeSessions([sessionId]).catch(() => undefined);
  return orphan !== undefined;
}

export const gatewayUserType = defineResourceType<GatewayUserProps, GatewayUserOutputs>({
  name: 'cognite:gateway-user',
  module: __filename,
  schema: gatewayUserSchema,
  attributes: ['username', 'host', 'port', 'database', 'sessionId'],
  // A session rotation keeps the login.
  stableAttributes: ['username', 'host', 'port', 'database'],
  secretAttributes: ['password'],
  immutable: PROJECT_IDENTITY,
  // Usernames are generated, so the new user can exist beside the old one.
  replaceOrder: 'create-before-delete',
  defaultRemovalPolicy: 'destroy',
  warmUp: (props, log) => cogniteClient(props.project, { log }).warmUp(),

  async create(props, ctx) {
    const cdf = cogniteClient(props.project, ctx);
    // The capability check and the first session do not depend on each other: made at once, they
    // cost a deploy one round trip before the user create, not two.
    const [checked, first] = await Promise.allSettled([preflight(props, cdf, ctx), newSession(cdf, props.session, ctx)]);
    if (checked.status === 'rejected') {
      if (first.status === 'fulfilled') await cdf.revokeSessions([first.value.id]).catch(() => undefined);
      throw checked.reason;
    }
    if (first.status === 'rejected') throw first.reason;
    let session = first.value;
    for (let attempt = 1; ; attempt++) {
      await ctx.checkpoint({ sessionId: session.id });
      try {
        return created(await cdf.createGatewayUser(session.nonce), ctx);
      } catch (err) {
        // The user may exist although the answer was lost; its password is gone, so delete it and try once more.
        if (attempt > 1 || !isLostResponse(err)) throw err;
        ctx.log(`no answer to the create (${(err as Error).message}); checking what it made`);
        await removeUnseenUser(cdf, session.id, ctx);
        session = await newSession(cdf, props.session, ctx);
      }
    }
  },

  async read(username, props, ctx) {
    const user = await cogniteClient(props.project, ctx).retrieveGatewayUser(username);
    return user && { outputs: { username: user.username, sessionId: user.sessionId ?? 0 } as GatewayUserOutputs, observed: user };
  },

  /** Changed credentials: bind the same user to a fresh session, then revoke the old one. */
  async update(username, _old, props, ctx) {
    const cdf = cogniteClient(props.project, ctx);
    if (!ctx.changes.some((path) => path.startsWith('session'))) {
      return { outputs: {} as GatewayUserOutputs }; // only the deploying identity changed
    }
    await preflight(props, cdf, ctx);
    const previous = (await cdf.retrieveGatewayUser(username))?.sessionId;
    const session = await newSession(cdf, props.session, ctx);
    const user = await cdf.updateGatewayUser(username, session.nonce);
    if (previous && previous !== user.sessionId) await cdf.revokeSessions([previous]).catch((err) => ctx.log(`could not revoke the old session ${previous}: ${(err as Error).message}`));
    ctx.log(`rotated the session of ${username}: ${previous ?? '?'} -> ${user.sessionId}`);
    return { outputs: { sessionId: user.sessionId ?? session.id } as GatewayUserOutputs };
  },

  async delete(username, props, ctx) {
    const cdf = cogniteClient(props.project, ctx);
    const sessionId = (await cdf.retrieveGatewayUser(username))?.sessionId;
    await cdf.deleteGatewayUser(username);
    // The session only served this user; revoking it leaves nothing behind.
    if (sessionId) await cdf.revokeSessions([sessionId]).catch(() => undefined);
  },

  /** After a crash the password is unknowable, so what the interrupted create made is removed, not adopted. */
  async adopt(props, ctx) {
    const sessionId = (ctx.recovery as { sessionId?: number } | undefined)?.sessionId;
    if (sessionId) await removeUnseenUser(cogniteClient(props.project, ctx), sessionId, ctx);
    return undefined;
  },
});

