/**
 * `cognite:gateway-view-table`: a gateway table over a data-model view.
 */
import * as z from 'zod';
import { defineResourceType } from '../../runtime/resource-type';
import { gatewayTableBase, gatewayTableHandler } from './gateway-table';

export const viewIdSchema = z
  .object({
    space: z.string().min(1).max(43, 'must be at most 43 characters (a data-model space)'),
    externalId: z.string().min(1).max(255),
    version: z.string().min(1).max(43).optional(),
  })
  .strict();

export const gatewayViewTableSchema = z.object({ ...gatewayTableBase, view: viewIdSchema }).strict();

export type GatewayViewTableProps = z.infer<typeof gatewayViewTableSchema>;

export const gatewayViewTableType = defineResourceType({
  name: 'cognite:gateway-view-table',
  module: __filename,
  schema: gatewayViewTableSchema,
  ...gatewayTableHandler<GatewayViewTableProps>(['view'], (p) => ({
    type: 'view',
    tablename: p.tablename,
    options: { space: p.view.space, externalId: p.view.externalId, ...(p.view.version ? { version: p.view.version } : {}) },
  })),
});
