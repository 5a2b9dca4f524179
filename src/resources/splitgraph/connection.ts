/**
 * What every Splitgraph resource carries in its props: how to reach the Postgres database an
 * engine lives in (a `PostgresConnection`), the naming rules the engine's names follow, and
 * `withSplitgraph`, which opens a connection for one handler call. Not a resource type of its own.
 *
 * Synth imports this module for its schemas, so node-postgres and the engine (src/splitgraph)
 * are loaded on first use only.
 */
import type { Client, ClientConfig } from 'pg';
import * as z from 'zod';
import { loadedOnFirstUse, type HandlerContext } from '../../runtime/resource-type';
import {
  DEFAULT_POSTGRES_PORT, DEFAULT_SSL_MODE, HEAD_TAG, POSTGRES_NAME_MAX_BYTES, POSTGRES_SSL_MODES, SPLITGRAPH_TAG, repositorySchemaName,
} from '../../services/splitgraph';

/** A Postgres name: not empty, at most 63 bytes (longer ones are truncated by Postgres, so two names could become one). */
export const postgresName = (what: string) =>
  z
    .string()
    .min(1, `the ${what} must not be empty`)
    .refine((name) => Buffer.byteLength(name) <= POSTGRES_NAME_MAX_BYTES, { message: `the ${what} must be at most ${POSTGRES_NAME_MAX_BYTES} bytes: Postgres truncates longer names` });

export const connectionSchema = z
  .object({
    /** Host name or address of the server. */
    host: z.string().min(1, 'must not be empty: give the server host name, e.g. an endpoint host'),
    port: z.number().int().min(1, 'must be 1-65535').max(65535, 'must be 1-65535').default(DEFAULT_POSTGRES_PORT),
    database: postgresName('database name'),
    user: z.string().min(1, 'must not be empty'),
    /** Resolved from a `$secret` or `$ref` marker by the engine before a handler sees it. */
    password: z.string().min(1, 'must not be empty: give a Secret or a reference such as credential.password').optional(),
    sslMode: z.enum(POSTGRES_SSL_MODES, { error: `must be one of ${POSTGRES_SSL_MODES.join(', ')}` }).default(DEFAULT_SSL_MODE),
  })
  .strict();

export type ConnectionProps = z.infer<typeof connectionSchema>;

/** A repository's names: `namespace/repository` is the schema its tables are in. */
export const repositoryNames = {
  namespace: z
    .string()
    .refine((n) => !n.includes('/'), { message: "must not contain '/'" })
    .default(''),
  repository: postgresName('repository name').refine((n) => !n.includes('/'), { message: "must not contain '/': give the namespace in namespace" }),
};

/** The schema name of a repository (`namespace/repository`) must itself be a Postgres name; the issue goes on `path`. */
export function checkSchemaName(namespace: unknown, repository: unknown, path: string, ctx: z.RefinementCtx): void {
  if (typeof repository !== 'string' || typeof namespace !== 'string') return;
  const schema = repositorySchemaName(namespace, repository);
  if (Buffer.byteLength(schema) > POSTGRES_NAME_MAX_BYTES) {
    ctx.addIssue({ code: 'custom', path: [path], message: `the repository's schema '${schema}' is ${Buffer.byteLength(schema)} bytes; Postgres names are at most ${POSTGRES_NAME_MAX_BYTES}: shorten the namespace or the repository name` });
  }
}

export const checkRepositorySchema = (props: { namespace?: unknown; repository?: unknown }, ctx: z.RefinementCtx): void =>
  checkSchemaName(props.namespace, props.repository, 'repository', ctx);

/** A snapshot's tag. */
export const tagSchema = z
  .string()
  .regex(SPLITGRAPH_TAG, { message: 'must be a letter or digit, then letters, digits, ".", "_" or "-" (at most 63 characters), e.g. v1 or release-2024.06' })
  .refine((t) => t !== HEAD_TAG, { message: `'${HEAD_TAG}' names the checked-out image and moves with every commit and checkout; choose another tag` });

/** Where an engine is, as people read it and as physical ids use it: `host:port/database`. */
export const engineAddress = (c: Pick<ConnectionProps, 'host' | 'port' | 'database'>): string => `${c.host}:${c.port}/${c.database}`;

/**
 * Refuses to move an object between databases in an update. Props that may be references (a
 * connection's host is often an endpoint's `host`) are not declared immutable: a reference to a
 * resource that changes in the same run is unknown when the run is planned, and an unknown
 * immutable prop of a RETAIN resource stops the whole run. So the identity is compared here,
 * once the values are known.
 */
export function checkSameDatabase(what: string, old: ConnectionProps, next: ConnectionProps, field = 'connection'): void {
  if (engineAddress(old) === engineAddress(next)) return;
  throw new Error(
    `${what} is in ${engineAddress(old)}, and ${field} now points at ${engineAddress(next)}. It does not move between databases: ` +
      `declare a new construct (another id) for ${engineAddress(next)} and remove this one, or point ${field} back at ${engineAddress(old)}.`,
  );
}

/** The engine library, which loads node-postgres (see loadedOnFirstUse). */
export const splitgraphApi = loadedOnFirstUse((): typeof import('../../splitgraph') => require('../../splitgraph'));

/** node-postgres settings for a connection: TLS as `sslMode` says. */
export function clientConfig(c: ConnectionProps): ClientConfig {
  const ssl = c.sslMode === 'disable' ? false : c.sslMode === 'require' ? { rejectUnauthorized: false } : { rejectUnauthorized: true };
  return { host: c.host, port: c.port, database: c.database, user: c.user, password: c.password, ssl, connectionTimeoutMillis: 30_000, application_name: 'pgstacks' };
}

/**
 * Runs `fn` with a client connected to `connection` and the engine library, and closes the client
 * afterwards. The password is redacted from the logs; the resource's deadline closes the
 * connection (cancelling what runs on it).
 */
export async function withSplitgraph<T>(
  connection: ConnectionProps,
  ctx: Pick<HandlerContext, 'redact' | 'signal'>,
  fn: (db: Client, sg: typeof import('../../splitgraph')) => Promise<T>,
): Promise<T> {
  if (connection.password) ctx.redact(connection.password);
  const sg = splitgraphApi();
  const { Client: PgClient } = require('pg') as typeof import('pg');
  const client = new PgClient(clientConfig(connection));
  // A connection lost while idle must not crash the handler; the next query reports it.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new Error(`cannot connect to Postgres at ${connection.user}@${engineAddress(connection)} (sslMode ${connection.sslMode}): ${(err as Error).message}`);
  }
  const onAbort = () => void client.end().catch(() => undefined);
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await fn(client, sg);
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    await client.end().catch(() => undefined);
  }
}
