/**
 * What every Cognite resource carries in its props: how to reach and authenticate to a CDF
 * project. Not a resource type of its own.
 */
import * as z from 'zod';
import type { CogniteClient, CogniteConnection } from '../../clients/cognite';
import { loadedOnFirstUse, type HandlerContext } from '../../runtime/resource-type';

/** CDF project URL names: lowercase letters, digits and hyphens. */
export const projectNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'expected a CDF project URL name: 2-63 lowercase letters, digits or -');

export const clientCredentialsSchema = z
  .object({
    clientId: z.string().min(1, 'must not be empty'),
    clientSecret: z.string().min(1, 'must not be empty'),
  })
  .strict();

export const cogniteProjectSchema = z
  .object({
    /** `https://{cluster}.cognitedata.com`, or an override such as the sandbox. */
    baseUrl: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
    project: projectNameSchema,
    tokenUrl: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
    scopes: z.array(z.string().min(1)).min(1),
    credentials: clientCredentialsSchema,
  })
  .strict();

export type CogniteProjectProps = z.infer<typeof cogniteProjectSchema>;

/** Props that change which project (and so which remote objects) a resource is in. */
export const PROJECT_IDENTITY = ['project.baseUrl', 'project.project'];

/** The Cognite client module (see loadedOnFirstUse). */
export const cogniteApi = loadedOnFirstUse((): typeof import('../../clients/cognite') => require('../../clients/cognite'));

export function cogniteClient(project: CogniteProjectProps, ctx: Pick<HandlerContext, 'log'> & Partial<Pick<HandlerContext, 'signal'>>, credentials = project.credentials): CogniteClient {
  const connection: CogniteConnection = { baseUrl: project.baseUrl, project: project.project, tokenUrl: project.tokenUrl, scopes: project.scopes, credentials };
  return new (cogniteApi().CogniteClient)(connection, { log: (line) => ctx.log(line), signal: ctx.signal });
}
