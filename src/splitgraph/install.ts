/**
 * What `initializeEngine` installs: the metadata schema, the SQL API, and the change capture
 * (log table and trigger function). Written for PostgreSQL 14 or later.
 */
import type { ClientBase } from 'pg';
import { notInitialized } from './errors';
import { API_SCHEMA, AUDIT_SCHEMA, CANONICAL_SETTINGS, META_SCHEMA, literal, transaction, trySavepoint } from './sql';

/** Bumped when the installed SQL changes shape; stored in `splitgraph_meta.info`. */
export const ENGINE_VERSION = '1';

/** Rows of a statement that the capture trigger logs in its first log row. */
export const CAPTURE_FIRST_ROWS = 10_000;
/** Bytes of row text per further log row of a big statement. */
export const CAPTURE_PART_BYTES = 64 * 1024 * 1024;

/** Options of {@link initializeEngine}. */
export interface InitializeOptions {
  /**
   * Leave out change capture (the `splitgraph_audit` schema), e.g. on an engine that only
   * stores objects pushed to it.
   * @default false
   */
  readonly skipAudit?: boolean;
}

const META_TABLES = `
CREATE SCHEMA IF NOT EXISTS ${META_SCHEMA};
CREATE TABLE IF NOT EXISTS ${META_SCHEMA}.info (
  key varchar PRIMARY KEY,
  value varchar NOT NULL
);
CREATE TABLE IF NOT EXISTS ${META_SCHEMA}.images (
  namespace varchar NOT NULL,
  repository varchar NOT NULL,
  image_hash varchar(64) NOT NULL CHECK (image_hash ~ '^[a-f0-9]{64}$'),
  parent_id varchar(64),
  created timestamp NOT NULL,
  comment varchar,
  provenance_type varchar,
  provenance_data jsonb,
  PRIMARY KEY (namespace, repository, image_hash)
);
CREATE TABLE IF NOT EXISTS ${META_SCHEMA}.tags (
  namespace varchar NOT NULL,
  repository varchar NOT NULL,
  image_hash varchar(64) NOT NULL,
  tag varchar NOT NULL,
  PRIMARY KEY (namespace, repository, tag),
  FOREIGN KEY (namespace, repository, image_hash) REFERENCES ${META_SCHEMA}.images ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS ${META_SCHEMA}.objects (
  object_id varchar(63) PRIMARY KEY CHECK (object_id ~ '^o[a-f0-9]{62}$'),
  namespace varchar NOT NULL,
  format varchar NOT NULL DEFAULT 'FRAG',
  size bigint NOT NULL,
  created timestamp NOT NULL,
  insertion_hash varchar(64) NOT NULL,
  deletion_hash varchar(64) NOT NULL,
  rows_inserted bigint NOT NULL,
  rows_deleted bigint NOT NULL,
  index jsonb NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS ${META_SCHEMA}.tables (
  namespace varchar NOT NULL,
  repository varchar NOT NULL,
  image_hash varchar(64) NOT NULL,
  table_name varchar NOT NULL,
  table_schema jsonb NOT NULL,
  object_ids varchar[] NOT NULL,
  PRIMARY KEY (namespace, repository, image_hash, table_name),
  FOREIGN KEY (namespace, repository, image_hash) REFERENCES ${META_SCHEMA}.images ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS tables_object_ids ON ${META_SCHEMA}.tables USING gin (object_ids);
`;

/** The API: what a remote engine is asked through, with a namespace check on every write. */
function apiFunctions(cryptoSchema: string, serverVersion: number): string {
  const api = API_SCHEMA;
  const meta = META_SCHEMA;
  const definer = `SECURITY DEFINER SET search_path = ${meta}, pg_catalog, pg_temp`;
  // A digest is summed as four 64-bit lanes; PostgreSQL 18 casts bytea to bigint directly.
  const lane = serverVersion >= 180000
    ? `SELECT substr(digest, lane * 8 + 1, 8)::bigint`
    : `SELECT ('x' || encode(substr(digest, lane * 8 + 1, 8), 'hex'))::bit(64)::bigint`;
  return `
DROP SCHEMA IF EXISTS ${api} CASCADE;
CREATE SCHEMA ${api};

-- Hashing helpers, simple enough for the planner to inline.
CREATE FUNCTION ${api}.row_digest(row_text text) RETURNS bytea
  LANGUAGE sql STABLE STRICT PARALLEL SAFE
  AS $$ SELECT ${cryptoSchema}.digest(convert_to(row_text, 'UTF8'), 'sha256') $$;
CREATE FUNCTION ${api}.digest_lane(digest bytea, lane int) RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ ${lane} $$;

CREATE FUNCTION ${api}.get_current_username() RETURNS text
  LANGUAGE sql STABLE AS $$ SELECT session_user::text $$;

-- A user may write only to the namespace named after them; superusers anywhere.
CREATE FUNCTION ${api}.check_privilege(namespace varchar) RETURNS void
  LANGUAGE plpgsql ${definer} AS $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN RETURN; END IF;
  IF namespace IS DISTINCT FROM session_user::text THEN
    RAISE EXCEPTION 'user % may not write to namespace %', session_user, namespace
      USING ERRCODE = 'insufficient_privilege';
  END IF;
END $$;

CREATE FUNCTION ${api}.get_images(_namespace varchar, _repository varchar)
  RETURNS TABLE (image_hash varchar, parent_id varchar, created timestamp, comment varchar, provenance_type varchar, provenance_data jsonb)
  LANGUAGE sql STABLE ${definer} AS $$
  SELECT image_hash, parent_id, created, comment, provenance_type, provenance_data FROM images
  WHERE namespace = _namespace AND repository = _repository ORDER BY created, image_hash $$;

CREATE FUNCTION ${api}.get_tagged_images(_namespace varchar, _repository varchar)
  RETURNS TABLE (image_hash varchar, tag varchar)
  LANGUAGE sql STABLE ${definer} AS $$
  SELECT image_hash, tag FROM tags WHERE namespace = _namespace AND repository = _repository ORDER BY tag $$;

CREATE FUNCTION ${api}.get_tables(_namespace varchar, _repository varchar, _image_hash varchar)
  RETURNS TABLE (table_name varchar, table_schema jsonb, object_ids varchar[])
  LANGUAGE sql STABLE ${definer} AS $$
  SELECT table_name, table_schema, object_ids FROM tables
  WHERE namespace = _namespace AND repository = _repository AND image_hash = _image_hash ORDER BY table_name $$;

CREATE FUNCTION ${api}.get_new_objects(_object_ids varchar[]) RETURNS varchar[]
  LANGUAGE sql STABLE ${definer} AS $$
  SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM unnest(_object_ids) AS id
  WHERE NOT EXISTS (SELECT 1 FROM objects o WHERE o.object_id = id) $$;

CREATE FUNCTION ${api}.get_object_meta(_object_ids varchar[])
  RETURNS TABLE (object_id varchar, namespace varchar, format varchar, size bigint, created timestamp,
                 insertion_hash varchar, deletion_hash varchar, rows_inserted bigint, rows_deleted bigint, index jsonb)
  LANGUAGE sql STABLE ${definer} AS $$
  SELECT object_id, namespace, format, size, created, insertion_hash, deletion_hash, rows_inserted, rows_deleted, index
  FROM objects WHERE object_id = ANY(_object_ids) ORDER BY object_id $$;

CREATE FUNCTION ${api}.add_image(_namespace varchar, _repository varchar, _image_hash varchar, _parent_id varchar,
                                 _created timestamp, _comment varchar, _provenance_type varchar, _provenance_data jsonb)
  RETURNS void LANGUAGE plpgsql ${definer} AS $$
BEGIN
  PERFORM ${api}.check_privilege(_namespace);
  INSERT INTO images VALUES (_namespace, _repository, _image_hash, _parent_id, _created, _comment, _provenance_type, _provenance_data)
  ON CONFLICT DO NOTHING;
END $$;

CREATE FUNCTION ${api}.tag_image(_namespace varchar, _repository varchar, _image_hash varchar, _tag varchar)
  RETURNS void LANGUAGE plpgsql ${definer} AS $$
BEGIN
  PERFORM ${api}.check_privilege(_namespace);
  INSERT INTO tags VALUES (_namespace, _repository, _image_hash, _tag)
  ON CONFLICT (namespace, repository, tag) DO UPDATE SET image_hash = excluded.image_hash;
END $$;

CREATE FUNCTION ${api}.delete_tag(_namespace varchar, _repository varchar, _tag varchar)
  RETURNS void LANGUAGE plpgsql ${definer} AS $$
BEGIN
  PERFORM ${api}.check_privilege(_namespace);
  DELETE FROM tags WHERE namespace = _namespace AND repository = _repository AND tag = _tag;
END $$;

CREATE FUNCTION ${api}.add_table(_namespace varchar, _repository varchar, _image_hash varchar, _table_name varchar,
                                 _table_schema jsonb, _object_ids varchar[])
  RETURNS void LANGUAGE plpgsql ${definer} AS $$
BEGIN
  PERFORM ${api}.check_privilege(_namespace);
  INSERT INTO tables VALUES (_namespace, _repository, _image_hash, _table_name, _table_schema, _object_ids)
  ON CONFLICT DO NOTHING;
END $$;

CREATE FUNCTION ${api}.add_object(_object_id varchar, _namespace varchar, _format varchar, _size bigint, _created timestamp,
                                  _insertion_hash varchar, _deletion_hash varchar, _rows_inserted bigint, _rows_deleted bigint, _index jsonb)
  RETURNS void LANGUAGE plpgsql ${definer} AS $$
BEGIN
  PERFORM ${api}.check_privilege(_namespace);
  INSERT INTO objects VALUES (_object_id, _namespace, _format, _size, _created, _insertion_hash, _deletion_hash, _rows_inserted, _rows_deleted, _index)
  ON CONFLICT DO NOTHING;
END $$;

CREATE FUNCTION ${api}.delete_repository(_namespace varchar, _repository varchar)
  RETURNS void LANGUAGE plpgsql ${definer} AS $$
BEGIN
  PERFORM ${api}.check_privilege(_namespace);
  DELETE FROM images WHERE namespace = _namespace AND repository = _repository;
END $$;

-- A table version may name only registered objects.
CREATE FUNCTION ${api}.check_object_ids() RETURNS trigger
  LANGUAGE plpgsql ${definer} AS $$
DECLARE missing varchar[];
BEGIN
  SELECT array_agg(id) INTO missing FROM unnest(NEW.object_ids) AS id
  WHERE NOT EXISTS (SELECT 1 FROM objects o WHERE o.object_id = id);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'table % of image % names unregistered objects %', NEW.table_name, NEW.image_hash, missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER check_object_ids BEFORE INSERT OR UPDATE ON ${meta}.tables
  FOR EACH ROW EXECUTE FUNCTION ${api}.check_object_ids();
`;
}

/** The change log and the function behind every capture trigger. */
function auditSql(): string {
  const audit = AUDIT_SCHEMA;
  // One log row holds many rows as text: far cheaper than a log row per table row. A statement's
  // first rows go in with one INSERT (the usual case: nothing more to do); the rest of a big one,
  // in parts of at most CAPTURE_PART_BYTES, so no value nears PostgreSQL's 1 GB limit. A
  // transition table reads in the same order every time, so OFFSET skips exactly the first rows.
  const first = CAPTURE_FIRST_ROWS;
  const log = (column: 'old_rows' | 'new_rows', transition: 'old_table' | 'new_table') => `
    INSERT INTO ${audit}.pending_changes (statement_id, relation, action, ${column})
    VALUES (this_statement, TG_RELID, this_action, ARRAY(SELECT (r.*)::text FROM ${transition} r LIMIT ${first}))
    RETURNING cardinality(${column}) INTO logged;
    -- Two IFs: a condition with a subquery costs an executor run even when it is not needed.
    IF logged = ${first} THEN
      IF EXISTS (SELECT 1 FROM ${transition} OFFSET ${first}) THEN
        INSERT INTO ${audit}.pending_changes (statement_id, relation, action, ${column})
        SELECT this_statement, TG_RELID, this_action, array_agg(row_text)
        FROM (SELECT row_text, sum(octet_length(row_text)) OVER (ROWS UNBOUNDED PRECEDING) / ${CAPTURE_PART_BYTES} AS part
              FROM (SELECT (r.*)::text AS row_text FROM ${transition} r OFFSET ${first}) rest) parts
        GROUP BY part;
      END IF;
    END IF;`;
  const output = CANONICAL_SETTINGS.filter(([name]) => name !== 'search_path');
  const canonical = output
    .map(([name, value]) => {
      if (name === 'DateStyle') return `split_part(current_setting('DateStyle'), ',', 1) = 'ISO'`;
      // Only tables with money columns (trigger argument 'money') depend on lc_monetary.
      if (name === 'lc_monetary') return `(TG_NARGS = 0 OR current_setting('lc_monetary') = ${literal(value)})`;
      return `current_setting(${literal(name)}) = ${literal(value)}`;
    })
    .join('\n             AND ');
  const switchTo = (values: (i: number) => string) => output.map(([name], i) => `set_config(${literal(name)}, ${values(i)}, true)`).join(', ');
  return `
CREATE SCHEMA IF NOT EXISTS ${audit};
REVOKE ALL ON SCHEMA ${audit} FROM PUBLIC;
CREATE SEQUENCE IF NOT EXISTS ${audit}.statement_ids;
-- One row per statement (per part of a big one) that changed a tracked table: the rows it
-- removed (old_rows) or added (new_rows), as text under the engine's canonical settings.
CREATE TABLE IF NOT EXISTS ${audit}.pending_changes (
  statement_id bigint NOT NULL,
  relation oid NOT NULL,
  -- 'I', 'U', 'D' or 'T' (written by the trigger only: a CHECK would cost ~5 µs per statement).
  action "char" NOT NULL,
  old_rows text[],
  new_rows text[]
);
-- Compressing megabytes of row text costs more than the disk it saves, for data soon deleted.
ALTER TABLE ${audit}.pending_changes ALTER old_rows SET STORAGE EXTERNAL, ALTER new_rows SET STORAGE EXTERNAL;
CREATE INDEX IF NOT EXISTS pending_changes_relation ON ${audit}.pending_changes (relation, statement_id);
-- Tracked tables, with the shape they had when their log was last empty (see tracking.ts).
CREATE TABLE IF NOT EXISTS ${audit}.tracked_tables (
  relation oid PRIMARY KEY,
  schema_name name NOT NULL,
  table_name name NOT NULL,
  shape text NOT NULL
);

CREATE OR REPLACE FUNCTION ${audit}.capture_changes() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  this_statement bigint := nextval('${audit}.statement_ids');
  this_action "char" := left(TG_OP, 1);
  saved text[];
  logged int;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    INSERT INTO ${audit}.pending_changes (statement_id, relation, action) VALUES (this_statement, TG_RELID, 'T');
    RETURN NULL;
  END IF;
  -- Row text must not depend on the writer's session. A SET clause on this function would switch
  -- the settings on every call; switching only when they differ keeps the usual case cheap.
  IF NOT (${canonical}) THEN
    saved := ARRAY[${output.map(([name]) => `current_setting(${literal(name)})`).join(', ')}];
    PERFORM ${switchTo((i) => literal(output[i][1]))};
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN ${log('old_rows', 'old_table')}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN ${log('new_rows', 'new_table')}
  END IF;
  IF saved IS NOT NULL THEN
    PERFORM ${switchTo((i) => `saved[${i + 1}]`)};
  END IF;
  RETURN NULL;
END $$;
`;
}

/**
 * Installs the engine in the client's database, or brings an existing install up to date:
 * schemas `splitgraph_meta` (metadata tables; objects), `splitgraph_api` (functions, recreated
 * each time) and `splitgraph_audit` (change log, capture trigger function), and the `pgcrypto`
 * extension (plus `postgres_fdw` where the server has it and the role may create it, for
 * engine-to-engine transfers). Safe to run again. The client's role must be allowed to create
 * schemas in the database (its owner, or granted CREATE) and `pgcrypto` (a trusted extension:
 * the same right suffices); `postgres_fdw` needs a superuser, or an install made by one.
 */
export async function initializeEngine(client: ClientBase, options: InitializeOptions = {}): Promise<void> {
  await transaction(client, async () => {
    // Two sessions initializing at once would race on CREATE … IF NOT EXISTS.
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('splitgraph initialize'))`);
    await client.query(META_TABLES);
    await client.query(`CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA ${META_SCHEMA}`);
    const fdw = await client.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'postgres_fdw'`);
    if (fdw.rowCount) {
      // Only push and pull use it (transfer.ts says so when it is missing). It is not a trusted
      // extension, so a database owner who is not a superuser (a Lakebase login, say) cannot
      // create it; that must not stop the rest of the engine from installing.
      await trySavepoint(client, '42501', () => client.query(`CREATE EXTENSION IF NOT EXISTS postgres_fdw SCHEMA ${META_SCHEMA}`));
    }
    const { rows } = await client.query<{ schema: string; version: number }>(
      `SELECT quote_ident(n.nspname) AS schema, current_setting('server_version_num')::int AS version
       FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto'`,
    );
    await client.query(apiFunctions(rows[0].schema, rows[0].version));
    if (!options.skipAudit) await client.query(auditSql());
    await client.query(
      `INSERT INTO ${META_SCHEMA}.info VALUES ('engine_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [ENGINE_VERSION],
    );
  });
}

/** Whether the client's database has the engine installed. */
export async function isEngineInitialized(client: ClientBase): Promise<boolean> {
  const { rows } = await client.query(`SELECT to_regclass('${META_SCHEMA}.info') IS NOT NULL AS ready`);
  return rows[0].ready as boolean;
}

/** Throws a clear error when the engine is not installed; `what` names the database for the message. */
export async function requireEngine(client: ClientBase, what = 'the database'): Promise<void> {
  if (!(await isEngineInitialized(client))) throw notInitialized(what);
}
