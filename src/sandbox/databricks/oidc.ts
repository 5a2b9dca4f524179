/**
 * The workspace's sign-in surface, at the root of the host as on a real workspace: host metadata
 * (`/.well-known/databricks-config`, which the Python SDK reads first), OIDC discovery and the
 * OAuth token endpoint for service principals (client credentials in HTTP Basic auth or the form).
 * Token errors use OAuth's `{error, error_description}` shape.
 */
import * as z from 'zod';
import { formDecode, oauthError, oauthErrorCode } from '../oauth';
import { route, type Service } from '../http';
import type { DatabricksAuth } from './auth';

const tokenRequest = z.object({
  grant_type: z.string({ error: 'grant_type is required' }),
  scope: z.string().optional(),
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
});

/** `/oidc`: discovery and the token endpoint. */
export function oidcService(host: string, auth: DatabricksAuth): Service {
  return {
    prefix: '/oidc',
    routes: [
      route({
        method: 'GET',
        path: '/.well-known/oauth-authorization-server',
        handler: () => ({
          issuer: `${host}/oidc`,
          authorization_endpoint: `${host}/oidc/v1/authorize`,
          token_endpoint: `${host}/oidc/v1/token`,
          jwks_uri: `${host}/oidc/jwks.json`,
          scopes_supported: ['all-apis', 'offline_access'],
          response_types_supported: ['code'],
          grant_types_supported: ['client_credentials'],
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
          code_challenge_methods_supported: ['S256'],
        }),
      }),
      route({
        method: 'POST',
        path: '/v1/token',
        bodyFormat: 'form',
        body: tokenRequest,
        async handler(ctx, { body }) {
          if (body.grant_type !== 'client_credentials') throw oauthError(400, 'unsupported_grant_type', `grant_type '${body.grant_type}' is not supported; use client_credentials`);
          let clientId = body.client_id;
          let secret = body.client_secret;
          const basic = /^Basic\s+(\S+)$/i.exec(String(ctx.headers.authorization ?? ''));
          if (basic) {
            const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
            const colon = decoded.indexOf(':');
            if (colon > 0) [clientId, secret] = [formDecode(decoded.slice(0, colon)), formDecode(decoded.slice(colon + 1))];
          }
          if (!clientId || !secret) throw oauthError(401, 'invalid_client', 'Client authentication failed: send the client id and secret as HTTP Basic auth');
          const identity = await auth.verifyClient(clientId, secret);
          if (!identity) throw oauthError(401, 'invalid_client', 'Client authentication failed');
          const scope = body.scope ?? 'all-apis';
          const issued = auth.issueToken(identity, scope);
          return { access_token: issued.token, scope, token_type: 'Bearer', expires_in: issued.expiresIn };
        },
      }),
    ],
    errorBody: (error) => ({ error: (error.details.error as string | undefined) ?? oauthErrorCode(error.status), error_description: error.message }),
    invalidInput: (issues) => oauthError(400, 'invalid_request', issues[0]?.message ?? 'The request is not valid'),
  };
}

/** `/.well-known`: the host metadata the SDKs read to find the OIDC endpoints and the workspace id. */
export function hostMetadataService(host: string, workspaceId: string, accountId: string): Service {
  return {
    prefix: '/.well-known',
    routes: [
      route({
        method: 'GET',
        path: '/databricks-config',
        handler: () => ({ oidc_endpoint: `${host}/oidc`, workspace_id: workspaceId, account_id: accountId }),
      }),
    ],
    errorBody: (error) => ({ error_code: oauthErrorCode(error.status), message: error.message }),
  };
}
