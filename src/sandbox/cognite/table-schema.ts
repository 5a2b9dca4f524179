/**
 * What a gateway table create accepts: `raw_rows` tables (a RAW table seen through declared
 * columns) and `view` tables (a data-model view), with names Postgres can hold, and the built-in
 * tables whose names are reserved.
 */
import * as z from 'zod';
import { identifier, items, MAX_IDENTIFIER_BYTES, nothing, text, variant } from './schemas';
import { COLUMN_TYPES } from './userdb';

export type Columns = Record<string, { type: string }>;

/**
 * A Postgres relation holds at most 1600 columns, and a raw table's view in the RAW store shows
 * one more (the row's ctid). CDF's own limit is not known.
 */
export const MAX_COLUMNS = 1599;

/** Postgres' own columns of every table; a declared column cannot take their names. */
const SYSTEM_COLUMNS = ['tableoid', 'xmin', 'cmin', 'xmax', 'cmax', 'ctid'];

/**
 * Built-in tables, with the columns the 2.0 migration notes list for them (VARCHAR(n) is reported
 * as VARCHAR, the nearest ColumnType). The real set is presumably larger; these names are reserved.
 */
export const BUILT_INS: Record<string, Columns> = Object.fromEntries(
  Object.entries({
    assets: { created_time: 'TIMESTAMPTZ', last_updated_time: 'TIMESTAMPTZ' },
    events: { created_time: 'TIMESTAMPTZ', last_updated_time: 'TIMESTAMPTZ' },
    extraction_pipeline_runs: { id: 'BIGINT' },
    extraction_pipelines: { contacts: 'JSON', raw_tables: 'JSON', documentation: 'VARCHAR', last_updated_time: 'TIMESTAMPTZ', created_by: 'VARCHAR' },
    files: {
      directory: 'VARCHAR', asset_ids: 'BIGINT[]', source_created_time: 'TIMESTAMPTZ', source_modified_time: 'TIMESTAMPTZ',
      security_categories: 'BIGINT[]', created_time: 'TIMESTAMPTZ', last_updated_time: 'TIMESTAMPTZ',
    },
    labels: { data_set_id: 'BIGINT[]', created_time: 'TIMESTAMPTZ' },
    sequences: { created_time: 'TIMESTAMPTZ' },
    sequence_rows: { values: 'JSON' },
    string_datapoints: { value: 'VARCHAR', timestamp: 'TIMESTAMPTZ', external_id: 'VARCHAR', id: 'BIGINT' },
    double_datapoints: { value: 'DOUBLE PRECISION', timestamp: 'TIMESTAMPTZ', external_id: 'VARCHAR', id: 'BIGINT' },
    raw_rows: { _raw_database: 'VARCHAR', _raw_table: 'VARCHAR', _raw_key: 'TEXT', _raw_columns: 'JSON', _raw_last_updated_time: 'TIMESTAMPTZ' },
    raw_tables: { _raw_database: 'VARCHAR', _raw_table: 'VARCHAR' },
  }).map(([name, columns]) => [name, Object.fromEntries(Object.entries(columns).map(([c, type]) => [c, { type }]))]),
);

export function isBuiltIn(tablename: string): boolean {
  return Object.prototype.hasOwnProperty.call(BUILT_INS, tablename);
}

const tablename = identifier(60).refine((name) => !isBuiltIn(name), { error: (issue) => `Table name '${String(issue.input)}' is reserved for a built-in table` });

const columns = z
  .record(z.string(), z.strictObject({ type: z.enum(COLUMN_TYPES) }))
  .superRefine((declared, ctx) => {
    const names = Object.keys(declared);
    if (names.length === 0) ctx.addIssue({ code: 'custom', message: 'Dictionary should have at least 1 item after validation, not 0' });
    if (names.length > MAX_COLUMNS) ctx.addIssue({ code: 'custom', message: `Dictionary should have at most ${MAX_COLUMNS} items after validation, not ${names.length}` });
    for (const name of names) {
      // Postgres identifiers hold at most 63 bytes; longer names would be truncated silently.
      if (name.length === 0 || Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES || name.includes('\0')) {
        ctx.addIssue({ code: 'custom', path: [name], message: `Column names must be 1-${MAX_IDENTIFIER_BYTES} bytes long, without NUL` });
      } else if (SYSTEM_COLUMNS.includes(name)) {
        ctx.addIssue({ code: 'custom', path: [name], message: `Column name '${name}' is reserved by PostgreSQL` });
      }
    }
  });

const rawTable = z
  .strictObject({
    type: z.literal('raw_rows'),
    tablename,
    options: z.strictObject({
      // RAW's own limits (the built-in raw_rows table declares VARCHAR(32) and VARCHAR(64)).
      database: text(1, 32),
      table: text(1, 64),
      primaryKey: identifier().optional(),
    }),
    columns,
  })
  .superRefine((table, ctx) => {
    const { primaryKey } = table.options;
    if (primaryKey !== undefined && !Object.prototype.hasOwnProperty.call(table.columns, primaryKey)) {
      ctx.addIssue({ code: 'custom', path: ['options', 'primaryKey'], message: `primaryKey '${primaryKey}' is not one of the columns` });
    }
  });

const viewTable = z.strictObject({
  type: z.literal('view'),
  tablename,
  options: z.strictObject({ space: text(1), externalId: text(1), version: text(1).optional() }),
});

/** One create item; the `type` picks the shape, so a raw table's issues are about raw tables. */
const newTable = variant((item) => {
  if (item.type === 'raw_rows') return rawTable;
  if (item.type === 'view') return viewTable;
  return z.object({ type: z.enum(['raw_rows', 'view']) }).pipe(nothing('unreachable'));
});

export type NewTable = z.output<typeof rawTable> | z.output<typeof viewTable>;

/** `POST /postgresgateway/tables/{username}`. */
export const createTablesBody = z.strictObject({ items: items(newTable, 1, 10) });
