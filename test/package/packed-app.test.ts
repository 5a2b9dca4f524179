/**
 * What users install: `npm pack` (prepack builds lib/ and the prebuilt handler), installed into a
 * fresh app outside the repository, laid out as `cdktf init --template=typescript` makes it.
 * test/package/app holds its files: cdktf.json, tsconfig.json, jest.config.js and setup.js as
 * cdktf-cli 0.21.0 ships them; main.ts, the README's simplest stack verbatim (it deploys wherever
 * the CDF_* variables point); and a unit test with cdktf's Testing matchers where the template puts
 * it. The app synthesizes with cdktf's default ts-node runner and as compiled JavaScript, passes its
 * own ts-jest tests, deploys into a sandbox started from the installed package, and
 * `npx pgstacks outputs` reads what it made.
 *
 * `cdktf init` expects cdktf-cli installed globally (`npm install --global cdktf-cli@0.21.0`), not
 * in the app; the repository's copy stands in for it on the PATH. Every command runs as an async
 * child process: the sandbox serves from this process, so a synchronous one would deadlock.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import type * as SandboxModule from '../../src/sandbox';

const ROOT = path.resolve(__dirname, '..', '..');
const TEMPLATE = path.join(__dirname, 'app');
const STACK = 'ingestion';
/** The versions the repository's lockfile pins, so npm's cache serves them. */
const VERSIONS = {
  cdktf: '0.21.0',
  constructs: '10.8.1',
  typescript: '5.9.3',
  'ts-node': '10.9.2',
  jest: '29.7.0',
  'ts-jest': '29.4.15',
  '@types/jest': '29.5.14',
  '@types/node': '20.19.0',
};

interface RunResult {
  readonly code: number;
  /** stdout and stderr, merged. */
  readonly output: string;
  readonly stdout: string;
}

let tmp: string;
let app: string;
let stackDir: string;
let sandbox: SandboxModule.Sandbox | undefined;
/** The environment of every command in the app: the sandbox's variables and a state key. */
let appEnv: NodeJS.ProcessEnv;
const stateKey = randomBytes(24).toString('base64url');

/** Runs a command without blocking the event loop; on timeout kills its whole process group. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = appEnv, timeoutMs = 110_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => ((output += chunk.toString('utf8')), (stdout += chunk.toString('utf8'))));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      output += `\n[killed after ${timeoutMs} ms]`;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('error', (error) => (clearTimeout(timer), reject(error)));
    child.on('close', (code) => (clearTimeout(timer), resolve({ code: code ?? -1, output, stdout })));
  });
}

async function runOk(command: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv, timeoutMs?: number): Promise<RunResult> {
  const result = await run(command, args, cwd, env, timeoutMs);
  if (result.code !== 0) throw new Error(`\`${[command, ...args].join(' ')}\` in ${cwd} exited ${result.code}:\n${result.output}`);
  return result;
}

/**
 * Runs `fn` holding a lock shared by every run of this test on the machine: `npm pack` rebuilds the
 * repository's lib/ (rm -rf, then tsc), so two concurrent packs of one checkout would collide.
 */
async function withPackLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = path.join(os.tmpdir(), `pgstacks-pack-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}.lock`);
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 300_000) fs.rmSync(lock, { recursive: true, force: true }); // left by a killed run
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** This process's environment without what npm, jest or the developer's shell set for the repository. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(npm_|PGSTACKS_|CDF_|CDKTF_|JEST_|TS_NODE_)/i.test(name) || name === 'INIT_CWD') continue;
    env[name] = value;
  }
  return env;
}

/** The stack's Terraform JSON and its folder, with the checks every synthesis must pass. */
function expectSynthesized(outdir: string): Record<string, any> {
  const dir = path.join(outdir, 'stacks', STACK);
  const tf = JSON.parse(fs.readFileSync(path.join(dir, 'cdk.tf.json'), 'utf8'));
  const data = tf.resource.terraform_data;
  // One lifecycle resource per construct (the project too: a connection declared once), the reconciler and the teardown.
  expect(Object.keys(data).sort()).toEqual(['adf-sink', 'cdf', 'pgstacks', 'pgstacks_rerun', 'pgstacks_start', 'pgstacks_teardown', 'pumps']);
  // Each spec: one JSON string, the secret by name only.
  const spec = (id: string) => JSON.parse(data[id].triggers_replace.spec);
  expect(spec('cdf')).toMatchObject({ connection: 'cdf', props: { baseUrl: appEnv.CDF_BASE_URL, project: appEnv.CDF_PROJECT, tokenUrl: appEnv.CDF_TOKEN_URL } });
  expect(spec('adf-sink')).toMatchObject({
    type: 'cognite:gateway-user',
    id: 'adf-sink',
    props: {
      project: { $connection: 'cdf' },
      session: { clientId: appEnv.CDF_CLIENT_ID, clientSecret: { $secret: { fromEnv: 'CDF_CLIENT_SECRET' } } },
    },
  });
  expect(spec('pumps')).toMatchObject({ type: 'cognite:gateway-raw-table', id: 'pumps', props: { tablename: 'pumps' } });
  // The reconciler runs the handler bundle the package ships prebuilt (nothing bundled at synth).
  const command: string = data.pgstacks.provisioner[0]['local-exec'].command;
  const handler = / (assets\/\S+\/pgstacks-handler\.js) reconcile/.exec(command)?.[1];
  expect(handler).toBeDefined();
  const prebuilt = path.join(app, 'node_modules', 'pgstacks', 'lib', 'pgstacks-handler');
  for (const file of fs.readdirSync(prebuilt)) {
    expect(fs.readFileSync(path.join(dir, path.dirname(handler!), file)).equals(fs.readFileSync(path.join(prebuilt, file)))).toBe(true);
  }
  // The client secret is read at deploy time only.
  expect(JSON.stringify(tf)).not.toContain(appEnv.CDF_CLIENT_SECRET);
  return tf;
}

beforeAll(async () => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-package-')));
  app = path.join(tmp, 'ingestion-app');
  stackDir = path.join(app, 'cdktf.out', 'stacks', STACK);
  // Outside the repository, with nothing above the app that Node or npm could pick up.
  for (let dir = path.dirname(app); ; dir = path.dirname(dir)) {
    for (const name of ['node_modules', 'package.json']) {
      if (fs.existsSync(path.join(dir, name))) throw new Error(`${path.join(dir, name)} is above the test app; set TMPDIR elsewhere`);
    }
    if (dir === path.dirname(dir)) break;
  }
  const bin = path.join(tmp, 'bin'); // stands in for a global `npm install -g cdktf-cli`
  fs.mkdirSync(bin);
  fs.symlinkSync(path.join(ROOT, 'node_modules', '.bin', 'cdktf'), path.join(bin, 'cdktf'));
  const scratch = path.join(tmp, 'tmp'); // what cdktf's Testing and jest leave in the temp folder goes with the rest
  fs.mkdirSync(scratch);
  const baseEnv: NodeJS.ProcessEnv = { ...cleanEnv(), PATH: `${bin}${path.delimiter}${process.env.PATH}`, TMPDIR: scratch, CHECKPOINT_DISABLE: '1' };

  const packed = await withPackLock(() => runOk('npm', ['pack', '--pack-destination', tmp], ROOT, baseEnv, 180_000));
  const tarballs = fs.readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
  if (tarballs.length !== 1) throw new Error(`npm pack made ${tarballs.join(', ') || 'no tarball'}:\n${packed.output}`);

  fs.cpSync(TEMPLATE, app, { recursive: true });
  const pkg = {
    name: 'ingestion-app',
    version: '1.0.0',
    main: 'main.js',
    types: 'main.ts',
    license: 'MPL-2.0',
    private: true,
    scripts: { get: 'cdktf get', build: 'tsc', synth: 'cdktf synth', compile: 'tsc --pretty', watch: 'tsc -w', test: 'jest', 'test:watch': 'jest --watch' },
    engines: { node: '>=20.9' },
    dependencies: { pgstacks: `file:${path.join(tmp, tarballs[0])}`, cdktf: VERSIONS.cdktf, constructs: VERSIONS.constructs },
    devDependencies: Object.fromEntries(['@types/jest', '@types/node', 'jest', 'ts-jest', 'ts-node', 'typescript'].map((n) => [n, VERSIONS[n as keyof typeof VERSIONS]])),
  };
  fs.writeFileSync(path.join(app, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  await runOk('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], app, baseEnv, 240_000);

  // The sandbox from the installed package, resolved as the app resolves it (package exports).
  const installed = createRequire(path.join(app, 'package.json'))('pgstacks/sandbox') as typeof SandboxModule;
  sandbox = await installed.startSandbox({ dataDir: path.join(tmp, 'sandbox'), port: 0, postgresPort: 0 });
  appEnv = { ...baseEnv, ...sandbox.env(), PGSTACKS_STATE_KEY: stateKey };
}, 420_000);

afterAll(async () => {
  await sandbox?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

test("the app's main.ts is the README's simplest stack, verbatim", () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const snippet = /```ts\n([^]*?)```/.exec(readme.split('\n## The simplest stack\n')[1] ?? '')?.[1];
  expect(fs.readFileSync(path.join(TEMPLATE, 'main.ts'), 'utf8')).toBe(snippet);
});

test('the packed tarball holds the compiled package, the prebuilt handler and the bin, and no sources', async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'pgstacks', 'package.json'), 'utf8'));
  const installed = path.join(app, 'node_modules', 'pgstacks');
  for (const file of [pkg.main, pkg.types, pkg.exports['./sandbox'].default, pkg.exports['./sandbox'].types, pkg.bin.pgstacks, 'lib/pgstacks-handler/pgstacks-handler.js', 'lib/pgstacks-handler/pgstacks-handler.bundle.js']) {
    expect(fs.existsSync(path.join(installed, file))).toBe(true);
  }
  expect(fs.existsSync(path.join(installed, 'src'))).toBe(false);
  expect(fs.readlinkSync(path.join(app, 'node_modules', '.bin', 'pgstacks'))).toContain('pgstacks');
});

test("`cdktf synth` with cdktf.json's default runner (npx ts-node main.ts) writes the stack with the prebuilt handler", async () => {
  expect(JSON.parse(fs.readFileSync(path.join(app, 'cdktf.json'), 'utf8')).app).toBe('npx ts-node main.ts');
  expect(fs.existsSync(path.join(app, 'main.js'))).toBe(false); // ts-node, not a compiled file
  await runOk('cdktf', ['synth'], app);
  const tf = expectSynthesized(path.join(app, 'cdktf.out'));
  // Terraform's local state next to cdktf.json, as cdktf does by default.
  expect(tf.terraform.backend.local.path).toBe(path.join(app, `terraform.${STACK}.tfstate`));
});

test("the app's own jest tests pass with ts-jest under cdktf init's tsconfig", async () => {
  const result = await runOk('npx', ['jest', '--ci'], app);
  expect(result.output).toMatch(/Tests:\s+2 passed, 2 total/);
  expect(result.output).toContain('PASS __tests__/main-test.ts');
});

test('the app compiled with tsc runs as JavaScript (node main.js) and synthesizes the same stack', async () => {
  // A module of the app's that starts the sandbox in its own tests: `pgstacks/sandbox` typed
  // through typesVersions under cdktf init's module resolution, loaded through the exports map.
  fs.writeFileSync(
    path.join(app, 'sandbox.ts'),
    [
      'import { startSandbox, type Sandbox, type SandboxOptions } from "pgstacks/sandbox";',
      'export const options: SandboxOptions = { port: 0, postgresPort: 0 };',
      'export const start: (options?: SandboxOptions) => Promise<Sandbox> = startSandbox;',
      '',
    ].join('\n'),
  );
  try {
    await runOk('npx', ['tsc'], app);
    expect(fs.existsSync(path.join(app, 'main.js'))).toBe(true);
    const loaded = await runOk('node', ['-e', 'console.log(typeof require("./sandbox.js").start)'], app);
    expect(loaded.stdout.trim()).toBe('function');

    const outdir = path.join(app, 'cdktf.out.js'); // beside cdktf.out, so the relative state paths match
    await runOk('node', ['main.js'], app, { ...appEnv, CDKTF_OUTDIR: outdir });
    const fromJs = expectSynthesized(outdir);
    // The ts-node synth to compare with (made here if this test runs alone).
    if (!fs.existsSync(path.join(stackDir, 'cdk.tf.json'))) await runOk('cdktf', ['synth', '--app', 'npx ts-node main.ts'], app);
    const fromTs = JSON.parse(fs.readFileSync(path.join(stackDir, 'cdk.tf.json'), 'utf8'));
    expect(fromJs).toEqual(fromTs);
  } finally {
    // Compiled files would make the app run as JavaScript in the other tests.
    for (const file of fs.readdirSync(app).filter((f) => /\.(js|d\.ts|tsbuildinfo)$/.test(f) && !/^(jest\.config|setup)\.js$/.test(f))) fs.rmSync(path.join(app, file), { force: true, recursive: true });
    fs.rmSync(path.join(app, '__tests__', 'main-test.js'), { force: true });
    fs.rmSync(path.join(app, '__tests__', 'main-test.d.ts'), { force: true });
  }
});

test('`cdktf deploy` deploys into the sandbox, and `npx pgstacks outputs` shows the gateway user from the app and its subfolders', async () => {
  // As the README deploys: cdktf synthesizes again (ts-node) and runs terraform init and apply.
  const applied = await runOk('cdktf', ['deploy', STACK, '--auto-approve'], app);
  expect(applied.output).toMatch(/pgstacks: adf-sink: created cognite:gateway-user \w+/);
  expect(applied.output).toMatch(/pgstacks: pumps: created cognite:gateway-raw-table \w+\/pumps/);
  expect(applied.output).toMatch(/Apply complete! Resources: 7 added/);

  const listed = await runOk('npx', ['pgstacks', 'outputs', STACK], app);
  expect(listed.stdout).toMatch(/^adf-sink \(cognite:gateway-user\)$/m);
  expect(listed.stdout).toMatch(/^\s+username\s+\w+$/m);
  expect(listed.stdout).toMatch(/^\s+password\s+\(sensitive\)$/m);
  expect(listed.stdout).toMatch(/^pumps \(cognite:gateway-raw-table\)$/m);
  const fromSubfolder = await runOk('npx', ['pgstacks', 'outputs', STACK], path.join(app, '__tests__'));
  expect(fromSubfolder.stdout).toBe(listed.stdout);

  const outputs = JSON.parse((await runOk('npx', ['pgstacks', 'outputs', STACK, '--json'], app)).stdout)['adf-sink'];
  expect(outputs).toMatchObject({ host: '127.0.0.1', port: sandbox!.postgres.port, database: outputs.username, password: '(sensitive)' });
  const password = (await runOk('npx', ['pgstacks', 'outputs', STACK, 'adf-sink', 'password', '--reveal'], path.join(app, '__tests__'))).stdout.trim();
  expect(password.length).toBeGreaterThanOrEqual(16);
  expect(listed.stdout).not.toContain(password);
  // Neither the password nor the client secret reaches Terraform's state.
  const tfstate = fs.readFileSync(path.join(app, `terraform.${STACK}.tfstate`), 'utf8');
  expect(tfstate).not.toContain(password);
  expect(tfstate).not.toContain(appEnv.CDF_CLIENT_SECRET);

  // The gateway user is a real login in the sandbox, and its raw table takes rows.
  const client = new Client({ host: outputs.host, port: outputs.port, user: outputs.username, password, database: outputs.database });
  await client.connect();
  try {
    expect((await client.query('SELECT current_user AS name')).rows[0].name).toBe(outputs.username);
    expect((await client.query("INSERT INTO pumps (id, pressure) VALUES ('p-1', 4.2)")).rowCount).toBe(1);
  } finally {
    await client.end();
  }
});
