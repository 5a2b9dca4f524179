/**
 * `pgstacks splitgraph`: an operator's view of an engine's repositories — pending changes, images,
 * differences — and the commands that move data: check an image out into its schema, push to and
 * pull from another engine. It talks to the engine's database directly (`--url`), not to a stack.
 */
import { parseArgs } from 'node:util';
import { Client, type ClientConfig } from 'pg';
import { SPLITGRAPH_REMOTE_URL_VARIABLE, SPLITGRAPH_URL_VARIABLE } from '../services/splitgraph';
import { SplitgraphError } from './errors';
import { checkout, diff, listImages, log, repositorySchema, status, type Image, type RepositoryRef, type TableDiff } from './repository';
import { pull, push } from './sync';

export const SPLITGRAPH_USAGE = `Usage: pgstacks splitgraph <command> <repository> [options]

Commands (<repository> is 'name' or 'namespace/name', the schema it is checked out into):
  status <repository>                 HEAD, and per table what a commit would store and the
                                      pending changed rows
  log <repository> [<ref>] [--all]    The history of HEAD (or of <ref>), newest first;
                                      --all: every image, oldest first
  diff <repository> [--against <ref>] [--table <t>] [--rows]
                                      How the schema differs from HEAD (its pending changes) or
                                      from <ref>; --rows lists the changed rows
  checkout <repository> <ref> [--force]
                                      Restore an image (a tag or a hash prefix) into the schema;
                                      refused over pending changes unless --force (they are lost)
  push <repository> --remote-url <url> [--remote-repository <ns/name>]
  pull <repository> --remote-url <url> [--remote-repository <ns/name>]
                                      Copy images, tags and objects to / from another engine
                                      (server to server, over the local server's postgres_fdw;
                                      --fdw-host/--fdw-port: the remote as the local server sees it)
Options:
  --url <url>          The engine's database, postgres://user:password@host:port/database
                       [?sslmode=disable|prefer|require|verify-full] (default: $${SPLITGRAPH_URL_VARIABLE};
                       sslmode defaults to prefer: TLS when the server offers it)
  --remote-url <url>   The other engine (default: $${SPLITGRAPH_REMOTE_URL_VARIABLE})
  --json               Print JSON
  -h, --help           Show this help

Passwords are never printed: URLs are shown as postgres://user:****@host:port/database.`;

/** Where the command writes, and the environment it reads. */
export interface SplitgraphCliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

const SSL_MODES = ['disable', 'prefer', 'require', 'verify-full'] as const;
type SslMode = (typeof SSL_MODES)[number];

/** A parsed connection URL: settings for node-postgres, and how to show it. */
export interface ParsedUrl {
  readonly config: ClientConfig & { host: string; port: number; database: string; user: string; password?: string };
  readonly sslMode: SslMode;
  /** The URL with the password masked. */
  readonly display: string;
}

class UsageError extends Error {}

/** Parses `postgres://user:password@host:port/database?sslmode=…`. */
export function parseUrl(url: string, option: string): ParsedUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${option} is not a URL; give postgres://user:password@host:port/database`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new UsageError(`${option} must start with postgres:// or postgresql://, not ${parsed.protocol}//`);
  }
  const user = decodeURIComponent(parsed.username);
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new UsageError(`${option} has no host`);
  if (!user) throw new UsageError(`${option} has no user: give postgres://user:password@${host}/database`);
  const port = parsed.port ? Number(parsed.port) : 5432;
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || user;
  const sslMode = (parsed.searchParams.get('sslmode') ?? 'prefer') as SslMode;
  if (!SSL_MODES.includes(sslMode)) throw new UsageError(`${option}: sslmode=${sslMode} is not one of ${SSL_MODES.join(', ')}`);
  const shown = new URL(parsed.toString());
  if (shown.password) shown.password = '****';
  return {
    config: { host, port, database, user, password, application_name: 'pgstacks splitgraph', connectionTimeoutMillis: 30_000 },
    sslMode,
    display: shown.toString(),
  };
}

/** Connects as `sslMode` says; `prefer` tries TLS and falls back to plain when the server has none. */
async function connect(url: ParsedUrl): Promise<Client> {
  const attempt = async (ssl: ClientConfig['ssl']) => {
    const client = new Client({ ...url.config, ssl });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
  };
  try {
    if (url.sslMode === 'disable') return await attempt(false);
    if (url.sslMode === 'verify-full') return await attempt({ rejectUnauthorized: true });
    try {
      return await attempt({ rejectUnauthorized: false });
    } catch (err) {
      if (url.sslMode === 'prefer' && /does not support SSL/i.test((err as Error).message)) return await attempt(false);
      throw err;
    }
  } catch (err) {
    throw new Error(`cannot connect to ${url.display}: ${(err as Error).message}`);
  }
}

function parseRepository(text: string | undefined): RepositoryRef {
  if (!text) throw new UsageError('give the repository: name or namespace/name');
  const parts = text.split('/');
  if (parts.length > 2 || parts.some((p) => !p)) throw new UsageError(`'${text}' is not a repository: give name or namespace/name`);
  return parts.length === 2 ? { namespace: parts[0], repository: parts[1] } : { repository: parts[0] };
}

const short = (hash: string) => hash.slice(0, 12);
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** Rows of cells as aligned columns. */
function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd());
}

/** Runs `pgstacks splitgraph …`; returns the exit code (2: usage, 1: failure). */
export async function splitgraphCli(argv: string[], io: SplitgraphCliIo): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        'remote-url': { type: 'string' },
        'remote-repository': { type: 'string' },
        'fdw-host': { type: 'string' },
        'fdw-port': { type: 'string' },
        against: { type: 'string' },
        table: { type: 'string' },
        rows: { type: 'boolean' },
        all: { type: 'boolean' },
        force: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.err(`pgstacks splitgraph: ${(err as Error).message}\n\n${SPLITGRAPH_USAGE}`);
    return 2;
  }
  const [command, ...args] = positionals;
  if (values.help || !command) {
    io.out(SPLITGRAPH_USAGE);
    return values.help ? 0 : 2;
  }
  const secrets: string[] = [];
  const clean = (text: string) => secrets.reduce((t, s) => t.split(s).join('****'), text);
  const clients: Client[] = [];
  try {
    const open = async (value: string | undefined, option: string, variable: string) => {
      const text = value ?? io.env[variable];
      if (!text) throw new UsageError(`give the engine's database with ${option} postgres://user:password@host:port/database, or set ${variable}`);
      const url = parseUrl(text, option);
      if (url.config.password) secrets.push(url.config.password);
      const client = await connect(url);
      clients.push(client);
      return { client, url };
    };
    const expectArgs = (count: number, shape: string) => {
      if (args.length !== count) throw new UsageError(`${command} takes ${shape}`);
    };
    const json = !!values.json;
    const write = (value: unknown, human: () => string[]) => {
      if (json) io.out(JSON.stringify(value, null, 2));
      else for (const line of human()) io.out(line);
    };
    switch (command) {
      case 'status': {
        expectArgs(1, '<repository>');
        const repo = parseRepository(args[0]);
        const { client, url } = await open(values.url, '--url', SPLITGRAPH_URL_VARIABLE);
        const result = await status(client, repo);
        write(result, () => statusLines(repo, result, url.display));
        return 0;
      }
      case 'log': {
        if (args.length < 1 || args.length > 2) throw new UsageError('log takes <repository> [<ref>]');
        const repo = parseRepository(args[0]);
        const { client } = await open(values.url, '--url', SPLITGRAPH_URL_VARIABLE);
        const images = values.all ? await listImages(client, repo) : await log(client, repo, args[1]);
        write(images, () => imageLines(repo, images));
        return 0;
      }
      case 'diff': {
        expectArgs(1, '<repository> [--against <ref>] [--table <table>] [--rows]');
        const repo = parseRepository(args[0]);
        const { client } = await open(values.url, '--url', SPLITGRAPH_URL_VARIABLE);
        const result = await diff(client, repo, { against: values.against, table: values.table, rows: !!values.rows });
        write(result, () => diffLines(repo, result, values.against ?? 'HEAD'));
        return 0;
      }
      case 'checkout': {
        expectArgs(2, '<repository> <tag or image hash>');
        const repo = parseRepository(args[0]);
        const { client } = await open(values.url, '--url', SPLITGRAPH_URL_VARIABLE);
        let imageHash: string;
        try {
          imageHash = await checkout(client, repo, args[1], { force: !!values.force });
        } catch (err) {
          if (err instanceof SplitgraphError && err.code === 'pending-changes') {
            io.err(`pgstacks splitgraph: ${err.message.split('\n')[0]}\nChecking out ${args[1]} would lose them: commit them first (deploy a SplitgraphSnapshot), or add --force to discard them.`);
            return 1;
          }
          throw err;
        }
        write({ repository: repositorySchema(repo), ref: args[1], imageHash }, () => [`Checked out ${args[1]} (image ${short(imageHash)}) into schema "${repositorySchema(repo)}".`]);
        return 0;
      }
      case 'push':
      case 'pull': {
        expectArgs(1, '<repository> --remote-url <url>');
        const repo = parseRepository(args[0]);
        const remoteRepository = values['remote-repository'] === undefined ? undefined : parseRepository(values['remote-repository']);
        const fdwPort = values['fdw-port'] === undefined ? undefined : Number(values['fdw-port']);
        if (fdwPort !== undefined && !(Number.isInteger(fdwPort) && fdwPort > 0 && fdwPort < 65536)) throw new UsageError(`--fdw-port ${values['fdw-port']} is not a port`);
        const local = await open(values.url, '--url', SPLITGRAPH_URL_VARIABLE);
        const remote = await open(values['remote-url'], '--remote-url', SPLITGRAPH_REMOTE_URL_VARIABLE);
        const { host, port, database, user, password } = remote.url.config;
        const engine = { client: remote.client, fdw: { host: values['fdw-host'] ?? host, port: fdwPort ?? port, database, user, password } };
        const result = command === 'push' ? await push(local.client, engine, repo, { remoteRepository }) : await pull(local.client, engine, repo, { remoteRepository });
        const there = repositorySchema(remoteRepository ?? repo);
        write(result, () => [
          command === 'push'
            ? `Pushed ${repositorySchema(repo)} to ${there} on ${remote.url.display}: ${plural(result.images.length, 'new image')}, ${plural(result.objects.length, 'object')}, tags: ${result.tags.join(', ') || 'none'}.`
            : `Pulled ${there} from ${remote.url.display} into ${repositorySchema(repo)}: ${plural(result.images.length, 'new image')}, ${plural(result.objects.length, 'object')}, tags: ${result.tags.join(', ') || 'none'}. Check an image out with 'pgstacks splitgraph checkout'.`,
        ]);
        return 0;
      }
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`pgstacks splitgraph: ${clean(err.message)}\n\n${SPLITGRAPH_USAGE}`);
      return 2;
    }
    io.err(`pgstacks splitgraph: ${clean((err as Error).message)}`);
    return 1;
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

function statusLines(repo: RepositoryRef, result: Awaited<ReturnType<typeof status>>, where: string): string[] {
  const lines = [`Repository ${repositorySchema(repo)} on ${where}`, `HEAD: ${result.head ? short(result.head) : '(not checked out)'}`];
  if (result.tables.length === 0) return [...lines, 'No tables.'];
  const rows = [['TABLE', 'NEXT COMMIT', 'ADDED', 'REMOVED', 'UPDATED'], ...result.tables.map((t) => [t.table, t.next, String(t.pending.added), String(t.pending.removed), String(t.pending.updated)])];
  const pendingRows = result.tables.reduce((n, t) => n + t.pending.added + t.pending.removed + t.pending.updated, 0);
  const changed = result.tables.filter((t) => t.next !== 'unchanged');
  return [
    ...lines,
    '',
    ...table(rows),
    '',
    result.changed ? `Changed since HEAD: ${plural(changed.length, 'table')}, ${plural(pendingRows, 'pending row')}.` : 'Nothing changed since HEAD.',
  ];
}

function imageLines(repo: RepositoryRef, images: Image[]): string[] {
  if (images.length === 0) return [`Repository ${repositorySchema(repo)} has no images.`];
  return table([
    ['IMAGE', 'CREATED', 'TAGS', 'COMMENT'],
    ...images.map((i) => [short(i.imageHash), i.created.toISOString().replace(/\.\d+Z$/, 'Z'), i.tags.join(',') || '-', i.comment ?? '']),
  ]);
}

function diffLines(repo: RepositoryRef, tables: TableDiff[], against: string): string[] {
  const lines = [`Repository ${repositorySchema(repo)} against ${against}:`];
  for (const t of tables) {
    lines.push(`  ${t.table}: ${t.status}${t.status === 'schema-changed' ? '' : ` (+${t.inserted} -${t.deleted} ~${t.updated})`}`);
    for (const change of t.rows ?? []) {
      if (change.kind === 'insert') lines.push(`    + ${JSON.stringify(change.newRow)}`);
      else if (change.kind === 'delete') lines.push(`    - ${JSON.stringify(change.oldRow)}`);
      else lines.push(`    ~ ${JSON.stringify(change.oldRow)} -> ${JSON.stringify(change.newRow)}`);
    }
  }
  if (tables.every((t) => t.status === 'unchanged')) lines.push('  no differences');
  return lines;
}
