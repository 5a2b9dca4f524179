/**
 * What every Databricks resource carries in its props: how to reach and authenticate to a
 * workspace (a `DatabricksWorkspace` connection). Not a resource type of its own.
 */
import * as z from 'zod';
import type { DatabricksClient } from '../../clients/databricks';
import { loadedOnFirstUse, type HandlerContext } from '../../runtime/resource-type';

export const workspaceSchema = z
  .object({
    /** `https://<workspace>.cloud.databricks.com`, or the sandbox's URL. */
    host: z.url({ protocol: /^https?$/, error: 'expected the workspace URL, e.g. https://acme.cloud.databricks.com' }),
    /** A personal access token, or a service principal's OAuth M2M credentials. */
    auth: z
      .object({
        token: z.string().min(1, 'must not be empty').optional(),
        clientId: z.string().min(1, 'must not be empty').optional(),
        clientSecret: z.string().min(1, 'must not be empty').optional(),
      })
      .strict()
      .refine((a) => (a.token !== undefined) !== (a.clientId !== undefined || a.clientSecret !== undefined), { message: 'give a token, or a clientId and clientSecret' })
      .refine((a) => (a.clientId === undefined) === (a.clientSecret === undefined), { message: 'a clientId needs a clientSecret, and the other way round' }),
  })
  .strict();

export type WorkspaceProps = z.infer<typeof workspaceSchema>;

/** The Databricks client module (see loadedOnFirstUse). */
export const databricksApi = loadedOnFirstUse((): typeof import('../../clients/databricks') => require('../../clients/databricks'));

export function databricksClient(workspace: WorkspaceProps, ctx: Pick<HandlerContext, 'log'> & Partial<Pick<HandlerContext, 'signal'>>): DatabricksClient {
  return new (databricksApi().DatabricksClient)(workspace, { log: (line) => ctx.log(line), signal: ctx.signal });
}
