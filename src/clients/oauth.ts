/**
 * How a client authenticates: an {@link AuthProvider} gives the headers for each request and may
 * refresh them once when the service answers 401. Two providers: OAuth 2.0 client credentials
 * (CDF through Entra ID, Databricks service principals) and a static bearer token (a PAT).
 */
import { DEFAULT_TIMING, RETRY_IDEMPOTENT, send, type RetryTiming } from './http';

/** Authentication for a {@link JsonApi}: headers per request, and a refresh after a 401. */
export interface AuthProvider {
  /** The headers that authenticate one request (e.g. `authorization`). */
  headers(): Promise<Record<string, string>>;
  /**
   * Called once when the service answered 401 to a request sent with `rejected`; the request is
   * then sent once more with fresh `headers()`. Absent: a 401 is final.
   */
  refresh?(rejected: Readonly<Record<string, string>>): Promise<void>;
  /**
   * Starts getting what `headers()` will need (an access token) without waiting for it; a failure
   * is left for the first call to report. Absent: there is nothing to get.
   */
  warmUp?(): void;
}

/** A fixed bearer token (a Databricks personal access token): nothing to refresh, so a 401 is final. */
export function bearerToken(token: string): AuthProvider {
  return { headers: async () => ({ authorization: `Bearer ${token}` }) };
}

export interface ClientCredentialsOptions {
  /** The OAuth 2.0 token endpoint. */
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Sent as one space-separated `scope`, when not empty. */
  readonly scopes?: readonly string[];
  /** More form fields for the token request (e.g. `{ scope: 'all-apis' }`). */
  readonly params?: Readonly<Record<string, string>>;
  /** Where the client id and secret go: form fields, or HTTP Basic auth. @default 'body' */
  readonly clientAuth?: 'body' | 'basic';
  /** Names the service in errors: "could not get a CDF access token for client …". */
  readonly service?: string;
  readonly timing?: RetryTiming;
  /** How long to wait for the token endpoint. @default 60000 */
  readonly timeoutMs?: number;
  /** One line per retry of the token endpoint. */
  readonly log?: (message: string) => void;
}

/** An {@link AuthProvider} that can also hand out the raw access token. */
export interface TokenProvider extends AuthProvider {
  /** A valid access token: cached, or fetched (one request for all concurrent callers). */
  token(): Promise<string>;
  refresh(rejected?: Readonly<Record<string, string>>): Promise<void>;
}

interface Token {
  readonly value: string;
  readonly expiresAt: number;
}

/**
 * Tokens by identity (token URL, client, secret, scopes, params), shared by every provider of that
 * identity in the process: each resource makes its own client, and they should not each log in.
 * The entry is the request's promise, so concurrent callers share one request.
 */
const tokens = new Map<string, Promise<Token>>();

/** Refresh when less than this is left, as the Cognite and Databricks SDKs do. */
export const TOKEN_REFRESH_MARGIN_MS = 30_000;

/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4). Tokens are cached per identity in the process,
 * fetched again when less than 30 s are left or after a 401, and a failure names the client id
 * and the token endpoint: `could not get a CDF access token for client 'x' from <url>: <error>`.
 */
export function clientCredentials(options: ClientCredentialsOptions): TokenProvider {
  const key = JSON.stringify([options.tokenUrl, options.clientId, options.clientSecret, options.scopes ?? [], options.params ?? {}, options.clientAuth ?? 'body']);
  const fresh = (token: Token) => token.expiresAt - Date.now() > TOKEN_REFRESH_MARGIN_MS;

  const fetchNew = (): Promise<Token> => {
    const request = fetchToken(options);
    tokens.set(key, request);
    // A failure is not cached: the next caller tries again.
    request.catch(() => tokens.get(key) === request && tokens.delete(key));
    return request;
  };

  const provider: TokenProvider = {
    async token() {
      for (;;) {
        const cached = tokens.get(key);
        if (!cached) return (await fetchNew()).value;
        const token = await cached; // a failed request fails everyone who waited for it
        if (fresh(token)) return token.value;
        // Stale: refresh, unless another caller already did while we waited.
        if (tokens.get(key) === cached) return (await fetchNew()).value;
      }
    },
    async headers() {
      return { authorization: `Bearer ${await provider.token()}` };
    },
    warmUp() {
      provider.token().catch(() => undefined);
    },
    async refresh(rejected) {
      const cached = tokens.get(key);
      const token = await cached?.catch(() => undefined);
      // Only the token that was rejected is replaced: N calls answered 401 make one new request.
      if (tokens.get(key) !== cached) return;
      if (!token || !rejected || rejected.authorization === `Bearer ${token.value}`) await fetchNew();
    },
  };
  return provider;
}

async function fetchToken(options: ClientCredentialsOptions): Promise<Token> {
  const { tokenUrl, clientId, clientSecret } = options;
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (options.clientAuth === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
  } else {
    form.set('client_id', clientId);
    form.set('client_secret', clientSecret);
  }
  if (options.scopes?.length) form.set('scope', options.scopes.join(' '));
  for (const [name, value] of Object.entries(options.params ?? {})) form.set(name, value);

  const failure = (why: string) =>
    new Error(`could not get ${options.service ? `a ${options.service}` : 'an'} access token for client '${clientId}' from ${tokenUrl}: ${why}`);
  let response;
  try {
    response = await send({
      method: 'POST',
      url: tokenUrl,
      headers,
      body: form.toString(),
      retry: RETRY_IDEMPOTENT, // asking for a token twice is harmless
      timing: options.timing ?? DEFAULT_TIMING,
      onRetry: (reason, delay) => options.log?.(`token endpoint answered ${reason}; retrying in ${Math.round(delay)}ms`),
      timeoutMs: options.timeoutMs,
    });
  } catch (err) {
    throw failure((err as Error).message);
  }
  let json: { access_token?: string; expires_in?: number | string; error?: string; error_description?: string } | undefined;
  try {
    json = response.text ? JSON.parse(response.text) : undefined;
  } catch {
    json = undefined;
  }
  if (response.status !== 200 || !json?.access_token) {
    throw failure(json?.error ? `${json.error}${json.error_description ? `: ${json.error_description}` : ''}` : `HTTP ${response.status}`);
  }
  // Some identity providers send expires_in as a string.
  const lifetime = Number(json.expires_in ?? 3600);
  return { value: json.access_token, expiresAt: Date.now() + (Number.isFinite(lifetime) ? lifetime : 3600) * 1000 };
}
