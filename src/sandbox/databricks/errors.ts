/**
 * Databricks' error answers: `{"error_code", "message", "details": [ErrorInfo…, RequestInfo]}`, the
 * status each `error_code` goes with, the messages for requests that fail their schema, and one
 * factory per kind of failure the Lakebase API reports (so the wording lives in one place).
 */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { HttpError } from '../errors';
import type { InputPart } from '../http';

/** The `error_code` a status gets when the thrower names none (injected faults, the router's 404). */
const DEFAULT_CODES: Record<number, string> = {
  400: 'INVALID_PARAMETER_VALUE',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'RESOURCE_CONFLICT',
  429: 'REQUEST_LIMIT_EXCEEDED',
  500: 'INTERNAL_ERROR',
  501: 'NOT_IMPLEMENTED',
  503: 'TEMPORARILY_UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** A `google.rpc.ErrorInfo` detail. */
export interface ErrorInfo {
  readonly reason: string;
  readonly domain?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The error shape of the REST API and of a failed operation's `error`. */
export interface ErrorJson {
  readonly error_code: string;
  readonly message: string;
  readonly details: readonly Record<string, unknown>[];
}

/** An error answered as `{error_code, message, details}`. */
export function lakebaseError(status: number, errorCode: string, message: string, info?: ErrorInfo): HttpError {
  return new HttpError(status, message, { error_code: errorCode, ...(info ? { error_info: info } : {}) });
}

function errorCodeOf(error: HttpError): string {
  const code = error.details.error_code;
  if (typeof code === 'string') return code;
  return DEFAULT_CODES[error.status] ?? (error.status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST');
}

/** The JSON body of an error; the RequestInfo's id is fresh, as the real service's trace ids are. */
export function errorJson(error: HttpError): ErrorJson {
  const info = error.details.error_info as ErrorInfo | undefined;
  return {
    error_code: errorCodeOf(error),
    message: error.message,
    details: [
      ...(info ? [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', domain: 'databricks.com', ...info }] : []),
      { '@type': 'type.googleapis.com/google.rpc.RequestInfo', request_id: randomUUID(), serving_data: '' },
    ],
  };
}

/** The service's `errorBody`. */
export const databricksErrorBody = (error: HttpError): unknown => errorJson(error);

/** Input that fails a route's schema: 400 INVALID_PARAMETER_VALUE naming the field. */
export function databricksInvalidInput(issues: readonly z.core.$ZodIssue[], part: InputPart): HttpError {
  const issue = issues[0];
  if (!issue) return invalidParameter('The request is not valid');
  const field = issue.path.map(String).join('.');
  if (issue.code === 'custom') return invalidParameter(issue.message);
  const where = field ? `field '${field}'` : part === 'body' ? 'the request body' : `the ${part}`;
  return invalidParameter(`Invalid value for ${where}: ${issue.message}`);
}

/**
 * Values Postgres refuses while the sandbox applies a change (a name in use, an object that still
 * depends on a role) are the caller's fault: 400 BAD_REQUEST with Postgres' words.
 */
export function clientErrorFromPostgres(error: unknown): HttpError | undefined {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  // 22: data exception; 2B: dependent objects; 3F: no such schema; 42: syntax or access rule; 55: object in use.
  if (/^(22|2B|3F|42|55)/.test(code)) return lakebaseError(400, 'BAD_REQUEST', (error as Error).message);
  return undefined;
}

// ------------------------------------------------------------------------------ factories

function traceId(): string {
  return randomUUID();
}

export function invalidParameter(message: string): HttpError {
  return lakebaseError(400, 'INVALID_PARAMETER_VALUE', message);
}

export function badRequest(message: string): HttpError {
  return lakebaseError(400, 'BAD_REQUEST', message);
}

/** `Field 'project_id' is required, expected non-default value (not "")!` */
export function requiredField(field: string): HttpError {
  return invalidParameter(`Field '${field}' is required, expected non-default value (not "")!`);
}

/** A create without a body: `Field 'role' is required and must contain at least one subfield with a non-default value!` */
export function requiredMessage(field: string): HttpError {
  return invalidParameter(`Field '${field}' is required and must contain at least one subfield with a non-default value!`);
}

/** `Field database_id must match pattern ^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$, got 'Invalid_DB_ID'.` */
export function badId(field: string, pattern: RegExp, value: string): HttpError {
  return invalidParameter(`Field ${field} must match pattern ${pattern.source}, got '${value}'.`);
}

/** `project id not found [TraceId: …]`: the parent chain is checked first, so this names the first missing one. */
export function notFound(type: string): HttpError {
  return lakebaseError(404, 'NOT_FOUND', `${type} id not found [TraceId: ${traceId()}]`);
}

export function alreadyExists(type: string, where = ''): HttpError {
  return lakebaseError(409, 'ALREADY_EXISTS', `${type} with such id already exists${where}`);
}

/** Roles and databases answer a duplicate with 400, not 409. */
export function nameTaken(type: 'role' | 'database'): HttpError {
  return badRequest(`${type} with that name already exists`);
}

/** Another change on the branch has not finished. The SDKs do not retry it; callers wait and resend. */
export function conflictingOperations(): HttpError {
  return lakebaseError(
    409,
    'ABORTED',
    'Your project already has conflicting operations in progress. Please wait until they are complete, and then try again.',
  );
}

/**
 * The object comes and goes with its parent (a root branch, a read-write endpoint). Declarative
 * clients read the detail and leave the delete to the parent's cascade.
 */
export function managedByParent(message: string): HttpError {
  return lakebaseError(400, 'BAD_REQUEST', message, {
    reason: 'RESOURCE_CONFLICT',
    domain: 'databricks.com',
    metadata: { declarative_context: 'MANAGED_BY_PARENT' },
  });
}

export function unauthenticated(message: string): HttpError {
  return lakebaseError(401, 'UNAUTHENTICATED', message);
}
