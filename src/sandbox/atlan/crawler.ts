/**
 * The Postgres crawler, for real: it connects (with `pg`) to the host, port and database of a
 * credential, reads the catalog and turns what the credential's user may see into Atlan assets:
 * Database, Schema, Table, View, MaterialisedView and Column, qualified as
 * `<connection>/<database>/<schema>/<table>[/<column>]`. Like information_schema, it lists only
 * schemas the user has USAGE on and relations and columns it holds some privilege on.
 *
 * Include and exclude filters map database regexes to schema regexes (`{"^db$": ["^s$"]}`, an
 * empty list meaning every schema); exclude wins over include. The temp-table regex drops tables
 * and views whose whole name matches it. Source-level filtering and JDBC internal methods change
 * how the real crawler extracts, not what it finds, so they change nothing here.
 */
import { Client } from 'pg';
import type { AtlanAuthType } from '../../services/atlan';

/** What a crawl or a credential test connects with. */
export interface SourceCredential {
  readonly authType: string;
  readonly host?: string;
  readonly port?: number;
  readonly username?: string;
  readonly password?: string;
  readonly extra?: Record<string, unknown>;
}

/** A failure to reach or read the source, worded for the run's or the test's message. */
export class SourceError extends Error {}

/** A database → schema regexes map, already parsed. */
export type FilterMap = Readonly<Record<string, readonly string[]>>;

export interface CrawlOptions {
  readonly connectionQualifiedName: string;
  readonly connectionName: string;
  readonly include: FilterMap;
  readonly exclude: FilterMap;
  readonly tempTableRegex?: string;
}

/** An asset as a crawl finds it; the store gives it a guid and a state. */
export interface AssetDraft {
  readonly typeName: string;
  readonly qualifiedName: string;
  readonly attributes: Record<string, unknown>;
}

const IAM_TYPES: readonly string[] = ['iam_user', 'iam_role', 'iam'] satisfies readonly (AtlanAuthType | 'iam')[];
const CONNECT_TIMEOUT_MS = 5_000;

/** Opens a connection as the credential says, or throws a SourceError naming what went wrong. */
export async function connectSource(credential: SourceCredential): Promise<Client> {
  if (IAM_TYPES.includes(credential.authType)) {
    throw new SourceError(
      `Authentication type '${credential.authType}' needs AWS to issue an RDS IAM token, which the pgstacks sandbox does not have; use basic authentication against the sandbox`,
    );
  }
  if (credential.authType !== 'basic') throw new SourceError(`Unsupported authentication type '${credential.authType}' for PostgreSQL`);
  const database = typeof credential.extra?.database === 'string' ? credential.extra.database : undefined;
  if (!credential.host) throw new SourceError('The credential has no host');
  if (!database) throw new SourceError('The credential has no database (extra.database)');
  const client = new Client({
    host: credential.host,
    port: credential.port ?? 5432,
    user: credential.username,
    password: credential.password ?? '',
    database,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'atlan-postgres-crawler',
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new SourceError(describeConnectError(error, credential, database));
  }
  return client;
}

function describeConnectError(error: unknown, credential: SourceCredential, database: string): string {
  const { code, message } = error as { code?: string; message?: string };
  const where = `${credential.host}:${credential.port ?? 5432}`;
  switch (code) {
    case '28P01':
    case '28000':
      return `Unable to connect to PostgreSQL at ${where}: authentication failed for user '${credential.username ?? ''}' (${message})`;
    case '3D000':
      return `Unable to connect to PostgreSQL at ${where}: database '${database}' does not exist`;
    case 'ECONNREFUSED':
      return `Unable to connect to PostgreSQL at ${where}: connection refused`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `Unable to connect to PostgreSQL: unknown host '${credential.host}'`;
    default:
      return `Unable to connect to PostgreSQL at ${where}: ${message ?? String(error)}`;
  }
}

/** Connects and disconnects: the credential test. */
export async function testSource(credential: SourceCredential): Promise<void> {
  const client = await connectSource(credential);
  await client.end().catch(() => undefined);
}

/** Crawls the credential's database; throws a SourceError if it cannot. */
export async function crawl(credential: SourceCredential, options: CrawlOptions): Promise<AssetDraft[]> {
  const client = await connectSource(credential);
  try {
    return await read(client, options);
  } catch (error) {
    if (error instanceof SourceError) throw error;
    throw new SourceError(`Extraction failed: ${(error as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const VISIBLE_SCHEMA = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
  AND has_schema_privilege(n.oid, 'USAGE')`;
const RELATION_KINDS = `c.relkind IN ('r', 'p', 'v', 'm', 'f')`;
const VISIBLE_RELATION = `has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')`;

async function read(client: Client, options: CrawlOptions): Promise<AssetDraft[]> {
  const database = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
  const connectionQn = options.connectionQualifiedName;
  const include = compileFilter(options.include);
  const exclude = compileFilter(options.exclude);
  const tempTable = options.tempTableRegex ? anchored(options.tempTableRegex) : undefined;
  const base = { connectionQualifiedName: connectionQn, connectionName: options.connectionName, connectorName: 'postgres', tenantId: 'default' };

  const wantedDatabase = (include.length === 0 || include.some((f) => f.db.test(database))) && !exclude.some((f) => f.db.test(database) && f.schemas.length === 0);
  if (!wantedDatabase) return [];
  const wantedSchema = (schema: string) =>
    (include.length === 0 || include.some((f) => f.db.test(database) && (f.schemas.length === 0 || f.schemas.some((s) => s.test(schema))))) &&
    !exclude.some((f) => f.db.test(database) && (f.schemas.length === 0 || f.schemas.some((s) => s.test(schema))));
  const wantedRelation = (schema: string, name: string) => wantedSchema(schema) && !(tempTable?.test(name) ?? false);

  const schemas = (
    await client.query<{ schema: string; description: string | null }>(
      `SELECT n.nspname AS schema, obj_description(n.oid, 'pg_namespace') AS description FROM pg_namespace n WHERE ${VISIBLE_SCHEMA} ORDER BY 1`,
    )
  ).rows.filter((s) => wantedSchema(s.schema));
  const relations = (
    await client.query<{ schema: string; name: string; relkind: string; description: string | null; row_estimate: string; size_bytes: string; definition: string | null }>(
      `SELECT n.nspname AS schema, c.relname AS name, c.relkind, obj_description(c.oid, 'pg_class') AS description,
              c.reltuples::bigint AS row_estimate, pg_total_relation_size(c.oid) AS size_bytes,
              CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS definition
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE ${RELATION_KINDS} AND ${VISIBLE_SCHEMA} AND ${VISIBLE_RELATION}
        ORDER BY 1, 2`,
    )
  ).rows.filter((r) => wantedRelation(r.schema, r.name));
  const columns = (
    await client.query<{
      schema: string;
      relation: string;
      name: string;
      ord: number;
      type_name: string;
      data_type: string;
      nullable: boolean;
      default_value: string | null;
      description: string | null;
      is_primary: boolean;
    }>(
      `SELECT n.nspname AS schema, c.relname AS relation, a.attname AS name, a.attnum AS ord, t.typname AS type_name,
              format_type(a.atttypid, a.atttypmod) AS data_type, NOT a.attnotnull AS nullable,
              pg_get_expr(d.adbin, d.adrelid) AS default_value, col_description(c.oid, a.attnum) AS description,
              EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND a.attnum = ANY (i.indkey)) AS is_primary
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attnum > 0 AND NOT a.attisdropped AND ${RELATION_KINDS} AND ${VISIBLE_SCHEMA}
          AND has_column_privilege(c.oid, a.attnum, 'SELECT, INSERT, UPDATE, REFERENCES')
        ORDER BY 1, 2, 4`,
    )
  ).rows.filter((c) => wantedRelation(c.schema, c.relation));

  const dbQn = `${connectionQn}/${database}`;
  const assets: AssetDraft[] = [
    { typeName: 'Database', qualifiedName: dbQn, attributes: { ...base, name: database, schemaCount: schemas.length } },
  ];
  const typeOf = (relkind: string) => (relkind === 'v' ? 'View' : relkind === 'm' ? 'MaterialisedView' : 'Table');
  for (const schema of schemas) {
    const schemaQn = `${dbQn}/${schema.schema}`;
    const own = relations.filter((r) => r.schema === schema.schema);
    assets.push({
      typeName: 'Schema',
      qualifiedName: schemaQn,
      attributes: {
        ...base,
        name: schema.schema,
        databaseName: database,
        databaseQualifiedName: dbQn,
        tableCount: own.filter((r) => typeOf(r.relkind) === 'Table').length,
        viewsCount: own.filter((r) => typeOf(r.relkind) !== 'Table').length,
        ...(schema.description ? { description: schema.description } : {}),
      },
    });
  }
  for (const relation of relations) {
    if (!schemas.some((s) => s.schema === relation.schema)) continue;
    const schemaQn = `${dbQn}/${relation.schema}`;
    const qn = `${schemaQn}/${relation.name}`;
    const typeName = typeOf(relation.relkind);
    const own = columns.filter((c) => c.schema === relation.schema && c.relation === relation.name);
    const rows = Number(relation.row_estimate);
    assets.push({
      typeName,
      qualifiedName: qn,
      attributes: {
        ...base,
        name: relation.name,
        databaseName: database,
        databaseQualifiedName: dbQn,
        schemaName: relation.schema,
        schemaQualifiedName: schemaQn,
        columnCount: own.length,
        ...(typeName === 'View' ? {} : { rowCount: rows >= 0 ? rows : 0, sizeBytes: Number(relation.size_bytes) }),
        ...(typeName === 'Table' ? { isPartitioned: relation.relkind === 'p' } : {}),
        ...(relation.definition ? { definition: relation.definition.trim() } : {}),
        ...(relation.description ? { description: relation.description } : {}),
      },
    });
    // Columns of views and materialised views both name their parent as a view.
    const parent = typeName === 'Table' ? 'table' : 'view';
    for (const column of own) {
      assets.push({
        typeName: 'Column',
        qualifiedName: `${qn}/${column.name}`,
        attributes: {
          ...base,
          name: column.name,
          databaseName: database,
          databaseQualifiedName: dbQn,
          schemaName: relation.schema,
          schemaQualifiedName: schemaQn,
          [`${parent}Name`]: relation.name,
          [`${parent}QualifiedName`]: qn,
          order: column.ord,
          dataType: column.type_name,
          rawDataTypeDefinition: column.data_type,
          isNullable: column.nullable,
          isPrimary: column.is_primary,
          ...(column.default_value !== null ? { defaultValue: column.default_value } : {}),
          ...(column.description ? { description: column.description } : {}),
        },
      });
    }
  }
  return assets;
}

interface CompiledFilter {
  readonly db: RegExp;
  readonly schemas: readonly RegExp[];
}

function compileFilter(filter: FilterMap): CompiledFilter[] {
  return Object.entries(filter).map(([db, schemas]) => ({ db: anchored(db), schemas: schemas.map(anchored) }));
}

/** Filters and the temp-table regex match whole names, as Java's `Pattern.matches` does. */
export function anchored(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}
