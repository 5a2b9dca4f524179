/** Connecting, for callers that hold a connection string or settings rather than a client. */
import { Client, type ClientConfig } from 'pg';

/**
 * Runs `fn` with a new client connected with `config` (a connection string or node-postgres
 * settings) and closes the client afterwards, whatever `fn` does.
 */
export async function withClient<T>(config: string | ClientConfig, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client(config);
  await client.connect();
  // A connection lost while idle must not crash the process; the next query reports it.
  client.on('error', () => undefined);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
