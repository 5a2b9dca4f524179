/**
 * The `pgstacks` command: outputs and state for people and pipelines, and the handler commands
 * the lifecycle resources run.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { VERSION as version } from './version';
import { loadResourceTypes } from './manifests';
import { LifecycleEngine } from './runtime/engine';
import { HANDLER_COMMANDS, runHandler } from './runtime/handler';
import { Logger } from './runtime/log';
import { formatPlan, hasChanges, summarize } from './runtime/plan';
import { parseManifest } from './runtime/spec';
import { defaultStateDirectory, locateStack } from './runtime/stack-files';
import { HANDLER_ENV } from './runtime/handler-env';
import {
  closeStateStore,
  CorruptRecordError,
  LocalDirectoryStore,
  openSecrets,
  openStateStore,
  secretNames,
  stateDirectory,
  STATE_DATABASE_VARIABLE,
  STATE_DIR_VARIABLE,
  STATE_KEY_VARIABLE,
  type ResourceRecord,
  type StateStore,
} from './runtime/state';

// The engine commands (plan, state) need every built-in type.
loadResourceTypes();

const USAGE = `Usage: pgstacks <command> [options]

Commands:
  outputs <stack> [--json] [--reveal]   Outputs of every resource in a stack (secrets masked
                                        unless --reveal)
  outputs <stack> <id> <name> [--reveal]
                                        One output's raw value, for scripts
  plan <stack> [--json] [--detailed-exitcode]
                                        What the next apply would do to each resource of the
                                        synthesized stack (run 'cdktf synth' first): create,
                                        update (which fields), replace, delete, and drift found
                                        by reading every remote object. Changes nothing.
                                        --detailed-exitcode: 0 no changes, 2 changes, 1 error
  state list <stack>                    The stack's records: logical id, type, status, physical id
  state show <stack> <id> [--reveal]    One record, as JSON
  state rm <stack> <id>                 Forget a record; the remote object is not touched
  state import <stack> <id> <physical id>
                                        Record an existing remote object as resource <id> (after
                                        the state was lost); --absent instead of the physical id:
                                        it does not exist, so the next apply creates it
  state migrate <stack> --to postgres|local
                                        Copy the stack's records between the local directory and
                                        the PostgreSQL store ($PGSTACKS_STATE_DATABASE_URL)
  sandbox [--data-dir <dir>] [--port <n>] [--postgres-port <n>] [--project <name>]...
                                        Run the local sandbox (Cognite and Databricks emulators
                                        and a real PostgreSQL) and print the environment to
                                        deploy to it;
                                        --project (repeatable) names the CDF projects it serves
                                        (default: acme)
  splitgraph status|log|diff|checkout|push|pull <repository> --url <postgres url>
                                        A Splitgraph engine's repositories: pending changes,
                                        images, diffs; restore an image; copy to and from
                                        another engine ('pgstacks splitgraph --help')
  handler reconcile|destroy             Run the handler (what the stack's reconciler and teardown
                                        do in Terraform)
Options:
  --state-dir <dir>   The state directory (default: $PGSTACKS_STATE_DIR, else the one the stack
                      was synthesized with, else .pgstacks/state next to the app's cdktf.json)
  -h, --help          Show this help

Secret outputs encrypted at rest need ${STATE_KEY_VARIABLE} to be revealed.`;

const MASK = '(sensitive)';

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

const defaultIo: CliIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
};

/** Runs the CLI; returns the exit code. */
export async function cli(argv: string[], io: CliIo = defaultIo): Promise<number> {
  // Its own options and help; loaded here, as only it needs a database driver at once.
  if (argv[0] === 'splitgraph') return (require('./splitgraph/cli') as typeof import('./splitgraph/cli')).splitgraphCli(argv.slice(1), io);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        'detailed-exitcode': { type: 'boolean' },
        absent: { type: 'boolean' },
        to: { type: 'string' },
        reveal: { type: 'boolean' },
        'state-dir': { type: 'string' },
        'data-dir': { type: 'string' },
        port: { type: 'string' },
        'postgres-port': { type: 'string' },
        project: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.err(`pgstacks: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help || !command) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  const env = values['state-dir'] ? { ...io.env, [STATE_DIR_VARIABLE]: values['state-dir'] } : io.env;
  const usage = (message: string) => {
    io.err(`pgstacks: ${message}\n\n${USAGE}`);
    return 2;
  };
  try {
    const store = (stack: string | undefined) => openStore(env, stack);
    const stateKey = env[STATE_KEY_VARIABLE];
    switch (command) {
      case 'outputs':
        if (args.length === 3) return await singleOutput(store(args[0]), args as [string, string, string], { reveal: !!values.reveal, stateKey }, io);
        if (args.length !== 1) return usage('outputs takes a stack name, or a stack, a logical id and an output name');
        return await outputs(store(args[0]), args[0], { json: !!values.json, reveal: !!values.reveal, stateKey }, io);
      case 'plan':
        if (args.length !== 1) return usage('plan takes a stack name');
        return await plan(args[0], env, { json: !!values.json, detailed: !!values['detailed-exitcode'] }, io);
      case 'sandbox':
        return await sandbox(
          {
            dataDir: values['data-dir'],
            port: values.port ?? env.PGSTACKS_SANDBOX_PORT,
            postgresPort: values['postgres-port'] ?? env.PGSTACKS_SANDBOX_POSTGRES_PORT,
            projects: values.project?.flatMap((p) => p.split(',')),
          },
          io,
        );
      case 'state': {
        const [sub, stack, id] = args;
        if (sub === 'list' && stack) return await stateList(store(stack), stack, io);
        if (sub === 'show' && stack && id) return await stateShow(store(stack), stack, id, { reveal: !!values.reveal, stateKey }, io);
        if (sub === 'rm' && stack && id) return await stateRm(store(stack), stack, id, io);
        if (sub === 'import' && stack && id && (args[3] || values.absent) && !(args[3] && values.absent)) return await stateImport(stack, id, args[3], env, io);
        if (sub === 'migrate' && stack && (values.to === 'postgres' || values.to === 'local')) return await stateMigrate(stack, values.to, env, io);
        return usage('state takes: list <stack> | show <stack> <id> | rm <stack> <id> | import <stack> <id> <physical id>|--absent | migrate <stack> --to postgres|local');
      }
      case 'handler':
        if (!HANDLER_COMMANDS.includes(args[0] as never)) return usage(`handler takes one of ${HANDLER_COMMANDS.join(', ')}`);
        return await runHandler(args[0], { env, write: io.out });
      default:
        return usage(`unknown command '${command}'`);
    }
  } catch (err) {
    io.err(`pgstacks: ${(err as Error).message}`);
    return 1;
  }
}

/** The store a stack's records are in: the override, else where the stack was synthesized to keep them. */
/**
 * The store a stack's records are in, as its synthesized reconciler would open it: the
 * environment first (PGSTACKS_STATE_DIR, a PostgreSQL connection string), then the settings and
 * directory the stack was synthesized with, then `.pgstacks/state` next to the app's cdktf.json.
 */
function openStore(env: NodeJS.ProcessEnv, stack: string | undefined): StateStore {
  const located = stack ? locateStack(stack) : undefined;
  return openStateStore({ ...located?.stateEnvironment, ...env }, located?.stateDirectory ?? defaultStateDirectory());
}

/** The engine over a stack's store, with the handler's settings from the environment. */
function engineFor(env: NodeJS.ProcessEnv, stack: string, io: CliIo): LifecycleEngine {
  const located = locateStack(stack);
  const logger = new Logger((line) => io.err(line));
  return new LifecycleEngine({ store: openStore(env, stack), env, logger, version, allowPlaintextSecrets: { ...located?.stateEnvironment, ...env }[HANDLER_ENV.plaintextSecrets] === 'true' });
}

/** The synthesized stack's manifest, or an error saying to synthesize it. */
function manifestOf(stack: string) {
  const located = locateStack(stack);
  if (!located) {
    throw new Error(`no synthesized stack '${stack}' with pgstacks resources found from ${process.cwd()}: run 'cdktf synth' in the app first`);
  }
  return parseManifest(fs.readFileSync(located.manifest, 'utf8'), located.manifest);
}

/** Records an existing remote object (or its absence) for a resource whose record was lost. */
async function stateImport(stack: string, id: string, physicalId: string | undefined, env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const message = await engineFor(env, stack, io).importRecord(manifestOf(stack), id, physicalId);
  io.out(message.charAt(0).toUpperCase() + message.slice(1));
  return 0;
}

/** Copies a stack's records and metadata between the local and the PostgreSQL store. */
async function stateMigrate(stack: string, to: string, env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const located = locateStack(stack);
  const settings = { ...located?.stateEnvironment, ...env };
  const local = new LocalDirectoryStore(stateDirectory(settings, located?.stateDirectory ?? defaultStateDirectory()));
  const postgres = openStateStore(settings);
  if (postgres instanceof LocalDirectoryStore) {
    io.err(`pgstacks: state migrate needs the PostgreSQL store's connection string: set ${STATE_DATABASE_VARIABLE} (or the variable Pgstacks.configure names)`);
    return 1;
  }
  const [source, target] = to === 'postgres' ? [local, postgres] : [postgres, local];
  try {
    return await source.withLock(stack, () =>
      target.withLock(stack, async () => {
        const records = await source.list(stack);
        if (records.length === 0) {
          io.err(`pgstacks: no records for stack '${stack}' in the ${source.description}`);
          return 1;
        }
        const existing = await target.list(stack);
        if (existing.length > 0) {
          io.err(`pgstacks: the ${target.description} already holds ${existing.length} records of stack '${stack}'; nothing was copied (forget them there first if they are stale)`);
          return 1;
        }
        const meta = await source.getMeta(stack);
        for (const record of records) await target.put(record);
        if (meta) await target.putMeta(stack, meta);
        io.out(`Copied ${records.length} records of stack '${stack}' from the ${source.description} to the ${target.description}.`);
        io.out(`The source records are kept; delete them once an apply from the new store has changed nothing.`);
        return 0;
      }),
    );
  } finally {
    await closeStateStore(postgres);
  }
}

/** Plans the synthesized stack against its records and remote objects, changing nothing. */
async function plan(stack: string, env: NodeJS.ProcessEnv, options: { json: boolean; detailed: boolean }, io: CliIo): Promise<number> {
  const result = await engineFor(env, stack, io).plan(manifestOf(stack));
  if (options.json) {
    io.out(JSON.stringify({ stack, changes: hasChanges(result), summary: summarize(result), resources: result.resources }, null, 2));
  } else {
    for (const line of formatPlan(result)) io.out(line);
  }
  const blocked = result.resources.filter((r) => r.error);
  if (blocked.length > 0) return 1;
  return options.detailed && hasChanges(result) ? 2 : 0;
}

interface RevealOptions {
  readonly reveal: boolean;
  readonly stateKey: string | undefined;
}

function secretValues(record: ResourceRecord, options: RevealOptions): Record<string, string> {
  if (!record.secretOutputs) return {};
  if (!options.reveal) return Object.fromEntries(secretNames(record.secretOutputs).map((n) => [n, MASK]));
  return openSecrets(record.secretOutputs, options.stateKey);
}

async function outputs(store: StateStore, stack: string, options: RevealOptions & { json: boolean }, io: CliIo): Promise<number> {
  const records = await store.list(stack);
  if (records.length === 0) {
    io.err(`pgstacks: no records for stack '${stack}' in the ${store.description}`);
    return 1;
  }
  const all = Object.fromEntries(records.map((r) => [r.id, { ...r.outputs, ...secretValues(r, options) }]));
  if (options.json) {
    io.out(JSON.stringify(all, null, 2));
    return 0;
  }
  for (const record of records) {
    io.out(`${record.id} (${record.type}${record.status === 'ready' ? '' : `, ${record.status}`})`);
    const values = all[record.id];
    const width = Math.max(0, ...Object.keys(values).map((k) => k.length));
    for (const [key, value] of Object.entries(values)) io.out(`  ${key.padEnd(width)}  ${value === null ? '-' : String(value)}`);
    if (Object.keys(values).length === 0) io.out('  (no outputs)');
  }
  if (!options.reveal && records.some((r) => r.secretOutputs)) io.out(`\nSensitive values are masked; add --reveal to show them.`);
  return 0;
}

async function singleOutput(store: StateStore, [stack, id, name]: [string, string, string], options: RevealOptions, io: CliIo): Promise<number> {
  const record = await store.get(stack, id);
  if (!record) {
    io.err(`pgstacks: no record '${id}' in stack '${stack}' (${store.description})`);
    return 1;
  }
  if (name in record.outputs) {
    io.out(String(record.outputs[name] ?? ''));
    return 0;
  }
  const secrets = record.secretOutputs ? secretNames(record.secretOutputs) : [];
  if (!secrets.includes(name)) {
    io.err(`pgstacks: ${id} has no output '${name}' (it has: ${[...Object.keys(record.outputs), ...secrets].join(', ')})`);
    return 1;
  }
  if (!options.reveal) {
    io.err(`pgstacks: ${id}.${name} is sensitive; add --reveal to print it`);
    return 1;
  }
  io.out(secretValues(record, options)[name]);
  return 0;
}

/** Runs the sandbox until SIGINT/SIGTERM, printing the environment to deploy against it. */
async function sandbox(options: { dataDir?: string; port?: string; postgresPort?: string; projects?: string[] }, io: CliIo): Promise<number> {
  // Loaded here, not at the top: embedded Postgres is for the sandbox only.
  const { startSandbox } = require('./sandbox') as typeof import('./sandbox');
  const running = await startSandbox({
    dataDir: options.dataDir,
    port: options.port === undefined ? undefined : Number(options.port),
    postgresPort: options.postgresPort === undefined ? undefined : Number(options.postgresPort),
    cogniteProjects: options.projects,
  });
  io.out(`pgstacks sandbox on ${running.url} (PostgreSQL on ${running.postgres.host}:${running.postgres.port}).`);
  io.out('To deploy to it, export:\n');
  for (const [key, value] of Object.entries(running.env())) io.out(`export ${key}='${value.replace(/'/g, `'\\''`)}'`);
  io.out('\nPress Ctrl-C (or send SIGTERM) to stop; its state is kept for the next start.');
  await new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await running.stop();
  return 0;
}

async function stateList(store: StateStore, stack: string, io: CliIo): Promise<number> {
  const records = await store.list(stack);
  const rows = [['LOGICAL ID', 'TYPE', 'STATUS', 'PHYSICAL ID', 'UPDATED'], ...records.map((r) => [r.id, r.type, r.status, r.physicalId ?? '-', r.updatedAt])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) io.out(row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd());
  return 0;
}

async function stateShow(store: StateStore, stack: string, id: string, options: RevealOptions, io: CliIo): Promise<number> {
  const record = await store.get(stack, id);
  if (!record) {
    io.err(`pgstacks: no record '${id}' in stack '${stack}' (${store.description})`);
    return 1;
  }
  const { secretOutputs, secretFingerprints, ...rest } = record;
  io.out(JSON.stringify({ ...rest, secretOutputs: secretOutputs ? secretValues(record, options) : undefined, secretFingerprints: secretFingerprints ? MASK : undefined }, null, 2));
  return 0;
}

async function stateRm(store: StateStore, stack: string, id: string, io: CliIo): Promise<number> {
  return store.withLock(stack, async () => {
    const record = await store.get(stack, id).catch((err: unknown) => {
      if (!(err instanceof CorruptRecordError)) throw err;
      return { type: 'a corrupt record', physicalId: undefined } as Pick<ResourceRecord, 'type' | 'physicalId'>;
    });
    if (!record) {
      io.err(`pgstacks: no record '${id}' in stack '${stack}' (${store.description})`);
      return 1;
    }
    await store.remove(stack, id);
    io.out(`Forgot ${id} (${record.type} ${record.physicalId ?? '(never created)'}); the remote object was not touched.`);
    return 0;
  });
}

/** For bin/pgstacks. */
export function main(): void {
  void cli(process.argv.slice(2)).then((code) => process.exit(code));
}
