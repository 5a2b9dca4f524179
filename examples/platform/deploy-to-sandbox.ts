/**
 * `npm run platform`: starts the pgstacks sandbox, deploys examples/platform into it (`cdktf
 * synth`, then real Terraform), prints the outputs and how to connect, and keeps the sandbox
 * running until Ctrl-C or SIGTERM (`--exit` stops right away, for CI).
 *
 * Environment: PGSTACKS_SANDBOX_PORT (default 4610), PGSTACKS_SANDBOX_POSTGRES_PORT (default 4611).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { cli } from '../../src/cli';
import { startSandbox } from '../../src/sandbox';

const ROOT = path.resolve(__dirname, '..', '..');
const STACK = 'platform';
const USER = 'cdf/adf-sink';
const LAKEBASE_ENDPOINT = 'lakebase/checkout/endpoint';
const LAKEBASE_LOGIN = 'checkout-login';
const ATLAN_CRAWLER = 'catalog/crawler';

const say = (text: string) => process.stdout.write(`${text}\n`);
const heading = (text: string) => say(`\n\x1b[1m== ${text}\x1b[0m`);

function failed(what: string, code: number): number {
  say(`\n${what} failed (exit ${code}); see the messages above.`);
  return code;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

async function outputs(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const lines: string[] = [];
  const code = await cli(['outputs', STACK, ...args], { out: (l) => lines.push(l), err: (l) => lines.push(l), env });
  if (code !== 0) throw new Error(lines.join('\n'));
  return lines.join('\n');
}

/** What the demo needs on this machine, checked before anything starts. */
function missingTools(): string[] {
  const has = (tool: string, args: string[]) => spawnSync(tool, args, { stdio: 'ignore' }).status === 0;
  const missing: string[] = [];
  if (!has('terraform', ['version'])) missing.push('terraform >= 1.4 is not on the PATH: install it (https://developer.hashicorp.com/terraform/install)');
  if (!has('psql', ['--version'])) missing.push('psql is not on the PATH (the demo prints a psql command): install the PostgreSQL client, e.g. apt-get install postgresql-client');
  return missing;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { exit: { type: 'boolean' } } });
  const missing = missingTools();
  if (missing.length) {
    say(missing.map((m) => `npm run platform: ${m}`).join('\n'));
    return 1;
  }
  const dataDir = path.join(ROOT, '.pgstacks', 'sandbox');
  if (!fs.existsSync(dataDir)) {
    // A new sandbox holds none of what an earlier deploy's state describes: start that state afresh too.
    for (const stale of [`terraform.${STACK}.tfstate`, `terraform.${STACK}.tfstate.backup`, path.join('.pgstacks', 'state', STACK)]) {
      fs.rmSync(path.join(ROOT, stale), { recursive: true, force: true });
    }
  }

  heading('Starting the pgstacks sandbox');
  const sandbox = await startSandbox({
    dataDir,
    port: Number(process.env.PGSTACKS_SANDBOX_PORT ?? 4610),
    postgresPort: Number(process.env.PGSTACKS_SANDBOX_POSTGRES_PORT ?? 4611),
  });
  say(`Cognite emulator on ${sandbox.cognite.baseUrl}, Databricks on ${sandbox.databricks.host}, Atlan on ${sandbox.atlan.baseUrl}, PostgreSQL on ${sandbox.postgres.host}:${sandbox.postgres.port}`);
  // Secret outputs (the gateway user's password) are stored encrypted: the demo keeps its own key.
  const keyFile = path.join(dataDir, 'state-key');
  if (!fs.existsSync(keyFile)) fs.writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
  const stateKey = fs.readFileSync(keyFile, 'utf8').trim();
  // The Atlan crawler logs in to Lakebase as a service principal of its own.
  const crawlerSecretFile = path.join(dataDir, 'crawler-secret');
  if (!fs.existsSync(crawlerSecretFile)) fs.writeFileSync(crawlerSecretFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const crawler = await sandbox.databricks.addClient({ clientId: 'atlan-crawler', clientSecret: fs.readFileSync(crawlerSecretFile, 'utf8').trim() });
  const env = {
    ...process.env,
    ...sandbox.env(),
    CDF_PROJECT: 'acme',
    CHECKPOINT_DISABLE: '1',
    PGSTACKS_STATE_KEY: stateKey,
    LAKEBASE_CRAWLER_CLIENT_ID: crawler.clientId,
    LAKEBASE_CRAWLER_CLIENT_SECRET: crawler.clientSecret,
  };
  try {
    // What `cdktf deploy` does, with Terraform's own plain output (readable in CI logs too).
    heading(`Synthesizing examples/${STACK} (npx cdktf synth)`);
    const stackDir = path.join(ROOT, 'cdktf.out', 'stacks', STACK);
    for (const [command, args, cwd] of [
      ['npx', ['cdktf', 'synth', '--output', 'cdktf.out'], ROOT],
      ['terraform', ['init', '-input=false', '-no-color'], stackDir],
    ] as const) {
      const code = await run(command, [...args], env, cwd);
      if (code !== 0) return failed(`${command} ${args[0]}`, code);
    }
    heading(`Deploying (terraform apply in cdktf.out/stacks/${STACK})`);
    const code = await run('terraform', ['apply', '-auto-approve', '-input=false', '-no-color'], env, stackDir);
    if (code !== 0) return failed('terraform apply', code);

    heading(`Outputs (npx pgstacks outputs ${STACK})`);
    say(await outputs([], env));

    const user = (await outputs([USER, 'username'], env)).trim();
    const port = (await outputs([USER, 'port'], env)).trim();
    const host = (await outputs([USER, 'host'], env)).trim();
    heading('Connect');
    say(`Write a row through the gateway user (its password comes from the state store, sealed with the demo's key):\n`);
    say(`  PGPASSWORD="$(PGSTACKS_STATE_KEY="$(cat ${path.relative(ROOT, keyFile)})" npx pgstacks outputs ${STACK} ${USER} password --reveal)" \\`);
    say(`    psql -h ${host} -p ${port} -U ${user} -d ${user} \\`);
    say(`    -c "INSERT INTO pumps (id, pressure, measured_at) VALUES ('pump-1', 4.2, now())"`);
    say(`\nThe row lands in CDF RAW ingest/pumps: ${sandbox.cognite.baseUrl}/api/v1/projects/acme/raw/dbs/ingest/tables/pumps/rows`);
    say(`(the sandbox enforces bearer auth; its client credentials are in \`npx pgstacks sandbox\`'s output).`);

    const endpointHost = (await outputs([LAKEBASE_ENDPOINT, 'host'], env)).trim();
    const lakebaseUser = (await outputs([LAKEBASE_LOGIN, 'username'], env)).trim();
    say(`\nConnect to the checkout team's Lakebase branch (a copy of production) with a generated credential (valid 1 hour):\n`);
    say(`  PGPASSWORD="$(PGSTACKS_STATE_KEY="$(cat ${path.relative(ROOT, keyFile)})" npx pgstacks outputs ${STACK} ${LAKEBASE_LOGIN} password --reveal)" \\`);
    say(`    psql "host=${endpointHost} port=5432 dbname=databricks_postgres user=${lakebaseUser} sslmode=require" -c "select current_user"`);
    const catalog = (await outputs([ATLAN_CRAWLER, 'connectionQualifiedName'], env)).trim();
    say(`\nAtlan catalogs that branch as connection ${catalog}; its assets: POST ${sandbox.atlan.baseUrl}/api/meta/search/indexsearch (bearer: ATLAN_API_KEY from \`npx pgstacks sandbox\`).`);

    if (values.exit) return 0;
    say('\nThe sandbox keeps running so you can connect; press Ctrl-C to stop it (its state is kept).');
    await new Promise((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    return 0;
  } finally {
    await sandbox.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    say(`\n${err.message}`);
    process.exit(1);
  },
);
