/**
 * The endpoints' TLS certificate: self-signed, made once per data directory with `openssl` (Node
 * cannot make an X.509 certificate by itself). Lakebase requires `sslmode=require`, so clients
 * that insist on TLS can connect; without openssl the proxies decline TLS and clients that allow
 * plain connections still work.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';

/** The TLS context of the endpoints' proxies, or undefined when no certificate can be made. */
export function endpointTls(dir: string): tls.SecureContext | undefined {
  const tlsDir = path.join(dir, 'tls');
  const key = path.join(tlsDir, 'key.pem');
  const cert = path.join(tlsDir, 'cert.pem');
  if (!fs.existsSync(key) || !fs.existsSync(cert)) {
    fs.mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
    try {
      execFileSync(
        'openssl',
        [
          'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
          '-keyout', `${key}.tmp`, '-out', `${cert}.tmp`, '-days', '3650',
          '-subj', '/CN=lakebase.pgstacks.sandbox', '-addext', 'subjectAltName=DNS:lakebase.pgstacks.sandbox,IP:127.0.0.1',
        ],
        { stdio: 'ignore', timeout: 30_000 },
      );
      fs.renameSync(`${key}.tmp`, key);
      fs.renameSync(`${cert}.tmp`, cert);
    } catch {
      return undefined;
    }
  }
  return tls.createSecureContext({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) });
}
