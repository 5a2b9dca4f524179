/**
 * What the Splitgraph-style versioning engine's constructs, resource types and CLI share: how a
 * Postgres connection is described, the naming rules of repositories, tables and tags, and the
 * CLI's environment variable. Constants only (no pg, no engine), so synth can import it.
 */

/** The variable `pgstacks splitgraph` reads the engine's connection URL from when `--url` is not given. */
export const SPLITGRAPH_URL_VARIABLE = 'PGSTACKS_SPLITGRAPH_URL';
/** The variable `pgstacks splitgraph push|pull` reads the remote engine's URL from when `--remote-url` is not given. */
export const SPLITGRAPH_REMOTE_URL_VARIABLE = 'PGSTACKS_SPLITGRAPH_REMOTE_URL';

/** The standard Postgres port. */
export const DEFAULT_POSTGRES_PORT = 5432;

/**
 * How a connection uses TLS: `disable` (never), `require` (always, without checking the server's
 * certificate: encrypted, as libpq's `sslmode=require`), `verify-full` (always, checking the
 * certificate and host name against Node's trusted CAs).
 */
export const POSTGRES_SSL_MODES = ['disable', 'require', 'verify-full'] as const;
export type PostgresSslMode = (typeof POSTGRES_SSL_MODES)[number];
/** Lakebase (and most managed Postgres) insists on TLS; `require` works with self-signed certificates too. */
export const DEFAULT_SSL_MODE: PostgresSslMode = 'require';

/** PostgreSQL truncates longer names. */
export const POSTGRES_NAME_MAX_BYTES = 63;

/** The tag the engine keeps on the checked-out image; no snapshot may use it. */
export const HEAD_TAG = 'HEAD';
/** A snapshot's tag: a letter or digit, then letters, digits, `.`, `_` or `-`; at most 63 characters. */
export const SPLITGRAPH_TAG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The schema a repository is checked out into: `namespace/repository`, or `repository` (as the engine names it). */
export function repositorySchemaName(namespace: string | undefined, repository: string): string {
  return namespace ? `${namespace}/${repository}` : repository;
}
