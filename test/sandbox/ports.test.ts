/** A busy port is refused before anything starts, naming how to choose another. */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSandbox } from '../../src/sandbox';

test('a busy HTTP or PostgreSQL port is an error naming the fix; no data directory is made', async () => {
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const port = (squatter.address() as net.AddressInfo).port;
  const dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-ports-')), 'sandbox');
  try {
    const started = Date.now();
    await expect(startSandbox({ dataDir, port, postgresPort: 0 })).rejects.toThrow(
      `sandbox: port ${port} (HTTP) on 127.0.0.1 is in use, perhaps by another sandbox; choose another with --port <n> or PGSTACKS_SANDBOX_PORT (0 picks a free one)`,
    );
    await expect(startSandbox({ dataDir, port: 0, postgresPort: port })).rejects.toThrow(/port \d+ \(PostgreSQL\).*--postgres-port <n> or PGSTACKS_SANDBOX_POSTGRES_PORT/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(fs.existsSync(dataDir)).toBe(false);
  } finally {
    squatter.close();
  }
});
