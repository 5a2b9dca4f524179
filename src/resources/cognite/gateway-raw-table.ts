/**
 * `cognite:gateway-raw-table`: a gateway table whose rows land in a CDF RAW table.
 */
import * as z from 'zod';
import { GATEWAY_COLUMN_TYPES } from '../../services/cognite';
import { defineResourceType } from '../../runtime/resource-type';
import { gatewayTableBase, gatewayTableHandler } from './gateway-table';

export const gatewayColumnSchema = z
  .object({
    name: z.string().min(1, 'must not be empty').max(63, 'must be at most 63 characters (a Postgres identifier)'),
    type: z.enum(GATEWAY_COLUMN_TYPES),
  })
  .strict();

export const gatewayRawTableSchema = z
  .object({
    ...gatewayTableBase,
    rawDatabase: z.string().min(1).max(32, 'must be at most 32 characters (a RAW database name)'),
    rawTable: z.string().min(1).max(64, 'must be at most 64 characters (a RAW table name)'),
    primaryKey: z.string().min(1).optional(),
    columns: z.array(gatewayColumnSchema).min(1, 'needs at least one column'),
  })
  .strict()
  .superRefine(
    (props, ctx) => {
      const names = props.columns.map((c) => c.name);
      names.forEach((name, i) => {
        if (names.indexOf(name) !== i) ctx.addIssue({ code: 'custom', path: ['columns', i, 'name'], message: `'${name}' is declared twice` });
      });
      if (props.primaryKey !== undefined && !names.includes(props.primaryKey)) {
        ctx.addIssue({ code: 'custom', path: ['primaryKey'], message: `must be one of the columns (${names.join(', ')})` });
      }
    },
    // Runs whenever the fields it reads are valid, even while others (a reference at synth) are not.
    { when: ({ issues }) => !issues.some((i) => ['columns', 'primaryKey'].includes(String(i.path?.[0]))) },
  );

export type GatewayRawTableProps = z.infer<typeof gatewayRawTableSchema>;

export const gatewayRawTableType = defineResourceType({
  name: 'cognite:gateway-raw-table',
  module: __filename,
  schema: gatewayRawTableSchema,
  ...gatewayTableHandler<GatewayRawTableProps>(['rawDatabase', 'rawTable', 'primaryKey', 'columns'], (p) => ({
    type: 'raw_rows',
    tablename: p.tablename,
    options: { database: p.rawDatabase, table: p.rawTable, ...(p.primaryKey ? { primaryKey: p.primaryKey } : {}) },
    // The wire form is a map from column name to type; object key order keeps the declared order.
    columns: Object.fromEntries(p.columns.map((c) => [c.name, { type: c.type }])),
  })),
});
