/**
 * Atlan's error answers. Heracles and Atlas answer
 * `{"errorCode", "errorMessage", "causes": [{errorType, errorMessage, location}], "errorId", "doc"?}`;
 * the official client maps the HTTP status to its exception when both a code and a message are
 * present. A few App API answers carry a body of their own (the duplicate-name 409), which
 * `rawError` passes through unchanged.
 */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { HttpError } from '../errors';
import type { InputPart, InvalidInputFormatter } from '../http';

interface Cause {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly location: string;
}

/** The body of every Atlan error answer (and of injected faults). */
export function atlanErrorBody(error: HttpError): unknown {
  const details = error.details as { rawBody?: unknown; errorCode?: unknown; causes?: Cause[]; doc?: string };
  if (details.rawBody !== undefined) return details.rawBody;
  return {
    errorCode: details.errorCode ?? error.status,
    errorMessage: error.message,
    causes: details.causes ?? [],
    errorId: randomUUID(),
    ...(details.doc ? { doc: details.doc } : {}),
  };
}

/** An error with Atlan's own error code (e.g. the App API's 1003). */
export function atlanError(status: number, message: string, errorCode?: number | string, causes?: Cause[]): HttpError {
  return new HttpError(status, message, { ...(errorCode !== undefined ? { errorCode } : {}), ...(causes ? { causes } : {}) });
}

/** An answer whose body is exactly `body` (no errorCode: the client sees a plain error with the text). */
export function rawError(status: number, body: Record<string, unknown>): HttpError {
  return new HttpError(status, String(body.message ?? ''), { rawBody: body });
}

export const notFound = (message: string) => atlanError(404, message);
export const badRequest = (message: string, causes?: Cause[]) => atlanError(400, message, 400, causes);
export const conflict = (message: string) => atlanError(409, message);

/** Input a route's schema refuses: a 400 naming each problem and where it is. */
export const atlanInvalidInput: InvalidInputFormatter = (issues, part) => {
  const causes = issues.slice(0, 10).map((issue) => cause(issue, part));
  const message = causes.map((c) => `${c.location}: ${c.errorMessage}`).join('; ');
  return badRequest(`Invalid request ${part}: ${message}`, causes);
};

function cause(issue: z.core.$ZodIssue, part: InputPart): Cause {
  const location = [part, ...issue.path.map(String)].join('.');
  return { errorType: 'ValidationError', errorMessage: issue.message, location };
}
