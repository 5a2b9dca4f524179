import type { Secret } from './secret';

/** Options of {@link StateBackend.postgres}. */
export interface PostgresStateBackendOptions {
  /** The connection string, read from the environment at deploy time (e.g. `PG_CONN_STR`, as Terraform's `pg` backend). */
  readonly connectionString: Secret;
  /**
   * The schema of pgstacks' tables, created on first use.
   * @default 'pgstacks'
   */
  readonly schema?: string;
}

/** Where the engine keeps its records of a stack. */
export class StateBackend {
  /**
   * A directory, one JSON file per record (the default).
   * @param directory relative to the folder of cdktf.json @default '.pgstacks/state'
   */
  static local(directory?: string): StateBackend {
    return new StateBackend('local', directory);
  }

  /**
   * A PostgreSQL database, for pipelines whose runners keep nothing between runs. It can be the
   * database of Terraform's `pg` backend; pgstacks uses a schema of its own.
   */
  static postgres(options: PostgresStateBackendOptions): StateBackend {
    if (options.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(options.schema)) {
      throw new Error(`StateBackend.postgres: schema = ${JSON.stringify(options.schema)}: use a lowercase identifier (letters, digits, _)`);
    }
    return new StateBackend('postgres', undefined, options.connectionString.variableName, options.schema ?? 'pgstacks');
  }

  private constructor(
    /** @internal */ readonly kind: 'local' | 'postgres',
    /** @internal */ readonly directory?: string,
    /** @internal */ readonly connectionVariable?: string,
    /** @internal */ readonly schema?: string,
  ) {}
}
