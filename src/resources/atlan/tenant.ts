/**
 * What every Atlan resource carries in its props: how to reach and authenticate to a tenant (an
 * `AtlanTenant` connection) and which of its workflow APIs to use. Not a resource type of its own.
 */
import * as z from 'zod';
import type { AtlanClient } from '../../clients/atlan';
import { loadedOnFirstUse, type HandlerContext } from '../../runtime/resource-type';

/**
 * Which workflow API new crawlers use: the legacy package workflows, the App API, or `auto`: the
 * App API where the tenant serves it (the legacy one "no longer runs on newer tenants"), else the
 * legacy one. An existing crawler stays on the API it was made with.
 */
export const ATLAN_API_CHOICES = ['workflow', 'app', 'auto'] as const;
export type AtlanApiChoice = (typeof ATLAN_API_CHOICES)[number];

export const tenantSchema = z
  .object({
    /** `https://<tenant>.atlan.com`, with no path, or the sandbox's URL. */
    baseUrl: z
      .url({ protocol: /^https?$/, error: 'expected the tenant URL, e.g. https://acme.atlan.com' })
      .refine((url) => /^https?:\/\/[^/]+\/?$/.test(url), { message: 'expected the tenant URL with no path, e.g. https://acme.atlan.com (pgstacks adds /api/service and /api/meta)' }),
    /** An API key, sent as `Authorization: Bearer <key>`. */
    apiKey: z.string().min(1, 'must not be empty'),
    api: z.enum(ATLAN_API_CHOICES, { error: `expected one of ${ATLAN_API_CHOICES.join(', ')}` }).default('auto'),
  })
  .strict();

export type TenantProps = z.infer<typeof tenantSchema>;

/** The tenant URL as the resources use it: no trailing slash. */
export const tenantUrl = (tenant: Pick<TenantProps, 'baseUrl'>): string => tenant.baseUrl.replace(/\/+$/, '');

/** The Atlan client module (see loadedOnFirstUse). */
export const atlanApi = loadedOnFirstUse((): typeof import('../../clients/atlan') => require('../../clients/atlan'));

export function atlanClient(tenant: TenantProps, ctx: Pick<HandlerContext, 'log' | 'signal' | 'redact'>): AtlanClient {
  ctx.redact(tenant.apiKey);
  return new (atlanApi().AtlanClient)({ baseUrl: tenantUrl(tenant), apiKey: tenant.apiKey }, { log: (line) => ctx.log(line), signal: ctx.signal });
}
