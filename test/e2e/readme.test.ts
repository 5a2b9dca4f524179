/**
 * The README's main command, `npm run platform`, in a copy of the repository: it starts the
 * sandbox, deploys examples/platform with `cdktf deploy`, prints the outputs with the password
 * masked, and the psql command it prints then inserts into `pumps`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const COPIED = ['package.json', 'tsconfig.json', 'cdktf.json', 'index.ts', 'bin', 'constructs', 'src', 'examples'];

let repo: string;
let demo: ChildProcess | undefined;

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

beforeAll(() => {
  repo = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-readme-'));
  for (const entry of COPIED) fs.cpSync(path.join(ROOT, entry), path.join(repo, entry), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(repo, 'node_modules'));
});
afterAll(() => {
  // The whole process group: npm, the script, and the sandbox's Postgres.
  if (demo?.pid && groupAlive(demo.pid)) process.kill(-demo.pid, 'SIGKILL');
  fs.rmSync(repo, { recursive: true, force: true });
});

test('npm run platform deploys into the sandbox, and the printed psql command inserts into pumps', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, PGSTACKS_SANDBOX_PORT: String(await freePort()), PGSTACKS_SANDBOX_POSTGRES_PORT: String(await freePort()) };
  delete env.CDF_CLIENT_SECRET;
  demo = spawn('npm', ['run', '--silent', 'platform'], { cwd: repo, env, detached: true });
  let output = '';
  demo.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  demo.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number>((resolve) => demo?.on('close', (code) => resolve(code ?? -1)));
  let timer: NodeJS.Timeout | undefined;
  const ready = await Promise.race([
    new Promise<boolean>((resolve) => (timer = setInterval(() => output.includes('press Ctrl-C') && resolve(true), 200))),
    exited.then(() => false),
  ]).finally(() => clearInterval(timer));
  if (!ready) throw new Error(`npm run platform stopped early:\n${output}`);

  expect(output).toMatch(/cdf\/adf-sink \(cognite:gateway-user\)[^]*password\s+\(sensitive\)/);
  expect(output).toContain('cdf/pumps (cognite:gateway-raw-table)');
  const psql = output.slice(output.indexOf('PGPASSWORD='), output.indexOf('now())"') + 'now())"'.length).replace(/\s*\\\n\s*/g, ' ');
  expect(psql).toMatch(/^PGPASSWORD="\$\(PGSTACKS_STATE_KEY="\$\(cat \.pgstacks\/sandbox\/state-key\)" npx pgstacks outputs platform cdf\/adf-sink password --reveal\)" psql -h 127\.0\.0\.1 -p \d+ -U \w+ -d \w+ -c "INSERT INTO pumps/);

  const inserted = spawnSync('sh', ['-c', psql], { cwd: repo, env, encoding: 'utf8' });
  expect(`${inserted.stdout}${inserted.stderr}`).toContain('INSERT 0 1');

  // Ctrl-C, as a terminal sends it to the whole foreground group: the sandbox shuts down cleanly.
  process.kill(-demo.pid!, 'SIGINT');
  await exited;
  for (let waited = 0; groupAlive(demo.pid!) && waited < 20_000; waited += 200) await new Promise((r) => setTimeout(r, 200));
  expect(groupAlive(demo.pid!)).toBe(false);
});
