/**
 * `databricks:lakebase-credential`: a short-lived Postgres password for the deploying identity on
 * an endpoint (`generate_database_credential`), for pgstacks resources that log in to Lakebase
 * (a crawler's source, an engine's connection). It lives only in the state store; each engine run
 * that finds it close to expiry makes a new one, which the resources that use it then receive.
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { defineResourceType, type HandlerContext } from '../../runtime/resource-type';
import { databricksClient, workspaceSchema, type WorkspaceProps } from './workspace';

export const credentialSchema = z
  .object({
    workspace: workspaceSchema,
    /** The endpoint's resource name. */
    endpoint: z.string().min(1),
    /** The role the identity logs in as, when the stack makes it (its resource name): only orders the deploy. */
    role: z.string().min(1).optional(),
    /** How long a password is valid: 300-3600 seconds. */
    ttlSeconds: z.number().int().min(300, 'must be 300-3600 seconds').max(3600, 'must be 300-3600 seconds').default(3600),
    /** A password with less than this left is replaced on the next run. */
    renewBeforeSeconds: z.number().int().min(0).default(900),
  })
  .strict();

export type LakebaseCredentialProps = z.infer<typeof credentialSchema>;
export type LakebaseCredentialOutputs = { username: string; expireTime: string };

/** The Postgres user of the deploying identity: a service principal's application id, or the PAT owner's user name. */
async function username(workspace: WorkspaceProps, ctx: HandlerContext): Promise<string> {
  if (workspace.auth.clientId) return workspace.auth.clientId;
  return (await databricksClient(workspace, ctx).currentUser()).userName;
}

async function generate(props: LakebaseCredentialProps, ctx: HandlerContext) {
  const credential = await databricksClient(props.workspace, ctx).generateDatabaseCredential(props.endpoint, props.ttlSeconds);
  ctx.redact(credential.token);
  ctx.log(`new database credential for ${props.endpoint}, valid until ${credential.expire_time}`);
  return {
    outputs: { username: await username(props.workspace, ctx), expireTime: credential.expire_time },
    secretOutputs: { password: credential.token },
  };
}

export const credentialType = defineResourceType<LakebaseCredentialProps, LakebaseCredentialOutputs>({
  name: 'databricks:lakebase-credential',
  module: __filename,
  schema: credentialSchema,
  attributes: ['username', 'expireTime'],
  secretAttributes: ['password'],
  immutable: ['workspace.host', 'endpoint'],
  replaceOrder: 'create-before-delete',
  defaultRemovalPolicy: 'destroy',
  warmUp: (props, log) => databricksClient(props.workspace, { log }).warmUp(),

  /** Credentials are not objects of their own: each construct's gets an id, so two logins at one endpoint never clash. */
  async create(props, ctx) {
    return { physicalId: `${props.endpoint}/credentials/${randomUUID()}`, ...(await generate(props, ctx)) };
  },

  /** Expiring soon reads as drift, so the run renews it (and the resources that use it see the new one). */
  async read(_endpoint, props, ctx) {
    const expires = Date.parse(String(ctx.recorded?.expireTime ?? ''));
    const renew = !(expires - Date.now() > props.renewBeforeSeconds * 1000);
    return { outputs: {} as LakebaseCredentialOutputs, drift: renew ? ['ttlSeconds'] : [] };
  },

  async update(_endpoint, _old, props, ctx) {
    return generate(props, ctx);
  },

  /** Nothing to delete: the password expires by itself. */
  async delete() {},
});
