/**
 * `POST /api/2.0/postgres/credentials` (generate_database_credential): a token that works as the
 * password of the caller's Postgres role (a service principal's application id, a user's email, or
 * `group_name`) on the endpoint's branch, until it expires (1 hour, or `ttl` / `expire_time`). It
 * is not an operation.
 *
 * The real token is workspace-scoped and several can be valid at once; in the sandbox it is set
 * as the role's password on that branch only. A role has one password, so while the role's last
 * token stays valid for at least the shortest TTL, a new request gets that token (and its expiry)
 * again, and callers that each hold one keep working; past that, the new token replaces it.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { route, type Route } from '../http';
import { LAKEBASE_LIMITS } from '../../services/databricks';
import { callerGuard } from './api';
import type { DatabricksAuth } from './auth';
import { invalidParameter, requiredField } from './errors';
import type { Lakebase } from './lakebase';
import { roleExists, setTokenPassword } from './pgsql';
import { credentialBody } from './schemas';
import { timestamp } from './wire';

const { min, max } = LAKEBASE_LIMITS.credentialTtlSeconds;

export function credentialRoutes(auth: DatabricksAuth, lakebase: Lakebase): Route[] {
  const key = randomBytes(32);
  /** The last token set as each role's password, by `<branch uid> <role>`. */
  const issued = new Map<string, { token: string; expiresAt: number; ready: Promise<void> }>();
  return [
    route({
      method: 'POST',
      path: '/credentials',
      guard: callerGuard(auth, lakebase),
      body: credentialBody,
      async handler(_ctx, { guard: caller, body }) {
        if (!body?.endpoint) throw requiredField('endpoint');
        const match = /^projects\/([^/]+)\/branches\/([^/]+)\/endpoints\/([^/]+)$/.exec(body.endpoint);
        if (!match) throw invalidParameter(`Field 'endpoint' must be an endpoint name, projects/{project_id}/branches/{branch_id}/endpoints/{endpoint_id}, got '${body.endpoint}'`);
        const { branch } = await lakebase.child('endpoint', match[1]!, match[2]!, match[3]!);
        const now = lakebase.clock.now();
        if (body.ttl !== undefined && body.expire_time !== undefined) throw invalidParameter('Only one of ttl and expire_time may be set');
        if (body.ttl !== undefined && (body.ttl < min || body.ttl > max)) throw invalidParameter(`Field 'ttl' must be between ${min}s and ${max}s, got '${body.ttl}s'`);
        if (body.expire_time !== undefined && (body.expire_time < now + min * 1000 || body.expire_time > now + max * 1000)) {
          throw invalidParameter(`Field 'expire_time' must be between ${min / 60} minutes and ${max / 3600} hour from now, got '${timestamp(body.expire_time)}'`);
        }
        const expiresAt = body.expire_time ?? now + (body.ttl ?? max) * 1000;
        const role = body.group_name ?? caller.id;
        const slot = `${branch.uid} ${role}`;
        const current = issued.get(slot);
        if (current && current.expiresAt - now >= min * 1000 && current.expiresAt <= expiresAt) {
          await current.ready;
          return { token: current.token, expire_time: timestamp(current.expiresAt) };
        }
        const token = credentialToken(key, role, body.endpoint, now, expiresAt);
        // Postgres checks VALID UNTIL against its own (real) clock; the proxy checks the emulator's.
        const validUntil = new Date(Date.now() + (expiresAt - now));
        const ready = (async () => {
          await lakebase.withDatabase(branch, 'postgres', async (client) => {
            if (await roleExists(client, role)) await setTokenPassword(client, role, token, validUntil);
          });
          await lakebase.recordCredential(branch.cluster, role, expiresAt);
        })();
        // Set before the password is: a request arriving meanwhile waits for this token instead of replacing it.
        issued.set(slot, { token, expiresAt, ready });
        await ready.catch((error: unknown) => {
          issued.delete(slot);
          throw error;
        });
        return { token, expire_time: timestamp(expiresAt) };
      },
    }),
  ];
}

/** A JWT-shaped token, as the real credentials are (signed with the sandbox's own key). */
function credentialToken(key: Buffer, role: string, endpoint: string, now: number, expiresAt: number): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({
    sub: role,
    aud: endpoint,
    iat: Math.floor(now / 1000),
    exp: Math.floor(expiresAt / 1000),
    jti: randomBytes(8).toString('hex'),
  })}`;
  return `${unsigned}.${createHmac('sha256', key).update(unsigned).digest('base64url')}`;
}
