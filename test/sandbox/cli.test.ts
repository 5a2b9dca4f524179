/** `pgstacks sandbox`: runs until Ctrl-C and prints the environment that deploys to it. */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { request } from 'undici';
import { freePort } from '../../src/sandbox/postgres';

test('prints working env exports and stops cleanly on SIGINT', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-sandbox-cli-'));
  const [port, postgresPort] = [await freePort(), await freePort()];
  const child = spawn(path.join(__dirname, '../../bin/pgstacks'), ['sandbox', '--data-dir', dataDir, '--port', String(port), '--postgres-port', String(postgresPort)]);
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  // Ready when it says so; a child that dies first ends the wait at once.
  const ready = new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('Press Ctrl-C')) resolve();
    });
    void exited.then(() => resolve());
  });
  try {
    await ready;
    expect(output).toContain(`pgstacks sandbox on http://127.0.0.1:${port} (PostgreSQL on 127.0.0.1:${postgresPort})`);
    const env = Object.fromEntries([...output.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));
    expect(Object.keys(env).sort()).toEqual([
      'ATLAN_API_KEY', 'ATLAN_BASE_URL',
      'CDF_BASE_URL', 'CDF_CLIENT_ID', 'CDF_CLIENT_SECRET', 'CDF_PROJECT', 'CDF_TOKEN_URL',
      'DATABRICKS_CLIENT_ID', 'DATABRICKS_CLIENT_SECRET', 'DATABRICKS_HOST', 'PGSTACKS_SANDBOX_URL',
    ]);
    expect(env.DATABRICKS_HOST).toBe(`http://127.0.0.1:${port}`);
    const token = await request(env.CDF_TOKEN_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: env.CDF_CLIENT_ID, client_secret: env.CDF_CLIENT_SECRET, scope: 'x' }).toString(),
    });
    const { access_token } = (await token.body.json()) as { access_token: string };
    const inspect = await request(`${env.CDF_BASE_URL}/api/v1/token/inspect`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(inspect.statusCode).toBe(200);
    await inspect.body.dump();
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 30_000);
