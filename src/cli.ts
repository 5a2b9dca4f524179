/**
 * The `pgstacks` command: outputs and state for people and pipelines, and the handler commands
 * the lifecycle resources run.
 */
import { parseArgs } from 'node:util';
import './resources';
import { HANDLER_COMMANDS, runHandler } from './runtime/handler';
import { openSecrets, openStateStore, secretNames, STATE_KEY_VARIABLE, type ResourceRecord, type StateStore } from './runtime/state';

const USAGE = `Usage: pgstacks <command> [options]

Commands:
  outputs <stack> [--json] [--reveal]   Outputs of every resource in a stack (secrets masked
                                        unless --reveal)
  outputs <stack> <id> <name> [--reveal]
                                        One output's raw value, for scripts
  state list <stack>                    The stack's records: logical id, type, status, physical id
  state show <stack> <id> [--reveal]    One record, as JSON
  state rm <stack> <id>                 Forget a record; the remote object is not touched
  sandbox [--data-dir <dir>] [--port <n>] [--postgres-port <n>]
                                        Run the local sandbox (Cognite emulator and a real
                                        PostgreSQL) and print the environment to deploy to it
  handler apply|delete|prune            Run the handler (what the lifecycle resources do),
                                        with the spec in PGSTACKS_SPEC
Options:
  --state-dir <dir>   The state directory (default: $PGSTACKS_STATE_DIR or ./.pgstacks/state)
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
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        reveal: { type: 'boolean' },
        'state-dir': { type: 'string' },
        'data-dir': { type: 'string' },
        port: { type: 'string' },
        'postgres-port': { type: 'string' },
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
  const env = values['state-dir'] ? { ...io.env, PGSTACKS_STATE_DIR: values['state-dir'] } : io.env;
  const usage = (message: string) => {
    io.err(`pgstacks: ${message}\n\n${USAGE}`);
    return 2;
  };
  try {
    const store = openStateStore(env);
    const stateKey = env[STATE_KEY_VARIABLE];
    switch (command) {
      case 'outputs':
        if (args.length === 3) return await singleOutput(store, args as [string, string, string], { reveal: !!values.reveal, stateKey }, io);
        if (args.length !== 1) return usage('outputs takes a stack name, or a stack, a logical id and an output name');
        return await outputs(store, args[0], { json: !!values.json, reveal: !!values.reveal, stateKey }, io);
      case 'sandbox':
        return await sandbox({ dataDir: values['data-dir'], port: values.port, postgresPort: values['postgres-port'] }, io);
      case 'state': {
        const [sub, stack, id] = args;
        if (sub === 'list' && stack) return await stateList(store, stack, io);
        if (sub === 'show' && stack && id) return await stateShow(store, stack, id, { reveal: !!values.reveal, stateKey }, io);
        if (sub === 'rm' && stack && id) return await stateRm(store, stack, id, io);
        return usage('state takes: list <stack> | show <stack> <id> | rm <stack> <id>');
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
async function sandbox(options: { dataDir?: string; port?: string; postgresPort?: string }, io: CliIo): Promise<number> {
  // Loaded here, not at the top: embedded Postgres is for the sandbox only.
  const { startSandbox } = require('./sandbox') as typeof import('./sandbox');
  const running = await startSandbox({
    dataDir: options.dataDir,
    port: options.port === undefined ? undefined : Number(options.port),
    postgresPort: options.postgresPort === undefined ? undefined : Number(options.postgresPort),
  });
  io.out(`pgstacks sandbox on ${running.url} (PostgreSQL on ${running.postgres.host}:${running.postgres.port}).`);
  io.out('To deploy to it, export:\n');
  for (const [key, value] of Object.entries(running.env())) io.out(`export ${key}='${value.replace(/'/g, `'\\''`)}'`);
  io.out('\nPress Ctrl-C to stop; its state is kept for the next start.');
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
    const record = await store.get(stack, id);
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
