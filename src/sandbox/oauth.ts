/** What the sandbox's OAuth 2.0 token endpoints share (Cognite's Entra-style one, Databricks' `/oidc/v1/token`). */
import { HttpError } from './errors';

/** An RFC 6749 error answer: `error` is carried in the details for the service's error body. */
export function oauthError(status: number, error: string, description: string): HttpError {
  return new HttpError(status, description, { error });
}

/** The RFC 6749 error code for a status the endpoint did not name one for. */
export function oauthErrorCode(status: number): string {
  if (status === 401) return 'invalid_client';
  if (status === 429) return 'temporarily_unavailable';
  return status >= 500 ? 'server_error' : 'invalid_request';
}

/** Basic credentials are form-encoded (RFC 6749 §2.3.1); a stray `%` is taken literally. */
export function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}
