/**
 * The Entra-style token endpoint (`/login/{tenant}/oauth2/v2.0/token`): client credentials in the
 * form or as HTTP Basic auth, answered with OAuth's error shape.
 */
import * as z from 'zod';
import { formDecode, oauthError, oauthErrorCode } from '../oauth';
import { route, type Service } from '../http';
import type { CogniteAuth } from './auth';
import { clientErrorFromPostgres } from './errors';
import { text } from './schemas';

const tokenRequest = z.object({
  grant_type: z.string({ error: "The request body must contain the parameter 'grant_type'." }),
  client_id: text().optional(),
  client_secret: text().optional(),
  scope: text().optional(),
});

export function loginService(auth: CogniteAuth): Service {
  const token = route({
    method: 'POST',
    path: '/:tenant/oauth2/v2.0/token',
    bodyFormat: 'form',
    body: tokenRequest,
    async handler(ctx, { body }) {
      if (body.grant_type !== 'client_credentials') throw oauthError(400, 'unsupported_grant_type', `The grant type '${body.grant_type}' is not supported.`);
      let clientId = body.client_id;
      let secret = body.client_secret;
      const basic = /^Basic\s+(\S+)$/i.exec(String(ctx.headers.authorization ?? ''));
      if (basic) {
        const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon > 0) {
          clientId = formDecode(decoded.slice(0, colon));
          secret = formDecode(decoded.slice(colon + 1));
        }
      }
      if (!clientId) throw oauthError(400, 'invalid_request', "The request body must contain the parameter 'client_id'.");
      if (!secret) throw oauthError(401, 'invalid_client', "The request body must contain the parameter 'client_secret' or HTTP Basic credentials.");
      const client = await auth.verifyClient(clientId, secret);
      if (!client) throw oauthError(401, 'invalid_client', `Invalid client secret provided for client '${clientId}'.`);
      const issued = auth.issueToken(client.clientId, body.scope ?? '');
      return { token_type: 'Bearer', expires_in: issued.expiresIn, ext_expires_in: issued.expiresIn, access_token: issued.token };
    },
  });
  return {
    prefix: '/login',
    routes: [token],
    errorBody: (error) => ({ error: (error.details.error as string | undefined) ?? oauthErrorCode(error.status), error_description: error.message }),
    invalidInput: (issues) => oauthError(400, 'invalid_request', issues[0]?.message ?? 'The request is not valid.'),
    translateError: clientErrorFromPostgres,
  };
}
