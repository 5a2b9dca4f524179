/**
 * Routes that declare their input: zod schemas for the path parameters, the query and the body,
 * checked after the route's guard (authentication comes first) and before its handler, which gets
 * the parsed values typed. The service's formatter words the answer to invalid input.
 */
import type { z } from 'zod';
import { HttpError } from './errors';
import type { RequestContext, Service } from './http';

/** Which part of a request a validation issue is about. */
export type InputPart = 'params' | 'query' | 'body';

/** Turns a request's validation issues into the service's answer: its status and message. */
export type InvalidInputFormatter = (issues: readonly z.core.$ZodIssue[], part: InputPart) => HttpError;

/** A route's schema for one part of the request, or none. */
export type InputSchema = z.ZodType | undefined;
type Parsed<S extends InputSchema> = S extends z.ZodType ? z.output<S> : undefined;

/** What a handler receives besides the context: validated input and its guard's result. */
export interface RouteInput<P, Q, B, G> {
  /** The path parameters as the route's `params` schema parsed them. */
  readonly params: P;
  /** The query (first value of each name) as the route's `query` schema parsed it. */
  readonly query: Q;
  /** The body as the route's `body` schema parsed it. */
  readonly body: B;
  /** What the route's `guard` returned. */
  readonly guard: G;
}

export interface RouteSpec<P extends InputSchema, Q extends InputSchema, B extends InputSchema, G> {
  readonly method: string;
  /** Relative to the service prefix; `:name` segments are parameters, e.g. `/projects/:project/sessions`. */
  readonly path: string;
  /**
   * Runs before any input is validated (authentication, authorization), so a caller without
   * access hears 401/403 rather than about the request's shape. Its result is `input.guard`.
   */
  readonly guard?: (ctx: RequestContext) => G | Promise<G>;
  /** Schema for the decoded path parameters. */
  readonly params?: P;
  /** Schema for the query, as an object of strings (the first value of each name). */
  readonly query?: Q;
  /** Schema for the body (an empty body is `undefined`). Without it the body is not read. */
  readonly body?: B;
  /** How the body is parsed before `body` validates it. @default 'json' */
  readonly bodyFormat?: 'json' | 'form';
  /** This route's answer to invalid input. @default the service's `invalidInput` */
  readonly invalidInput?: InvalidInputFormatter;
  handler(ctx: RequestContext, input: RouteInput<Parsed<P>, Parsed<Q>, Parsed<B>, G>): unknown;
}

/** A route of any input types, as a service lists it. */
export type Route = RouteSpec<any, any, any, any>;

/** Declares a route; the handler's `input` is typed from the schemas and the guard. */
export function route<P extends InputSchema = undefined, Q extends InputSchema = undefined, B extends InputSchema = undefined, G = undefined>(
  spec: RouteSpec<P, Q, B, G>,
): Route {
  return spec;
}

/** Issues as `path: message`, for services without a formatter of their own. */
export const listIssues: InvalidInputFormatter = (issues, part) =>
  new HttpError(400, `Invalid ${part}: ${issues.map((i) => `${[part, ...i.path.map(String)].join('.')}: ${i.message}`).join('; ')}`);

/** Guard first, then params, query and body, each validated by its schema; then the handler. */
export async function runRoute(service: Service, route: Route, ctx: RequestContext): Promise<unknown> {
  const guard: unknown = route.guard ? await route.guard(ctx) : undefined;
  const invalid = route.invalidInput ?? service.invalidInput ?? listIssues;
  const validate = async (schema: z.ZodType | undefined, part: InputPart, read: () => unknown): Promise<unknown> => {
    if (!schema) return undefined;
    const parsed = await schema.safeParseAsync(await read(), { reportInput: true });
    if (!parsed.success) throw invalid(parsed.error.issues, part);
    return parsed.data;
  };
  const params = await validate(route.params, 'params', () => ctx.params);
  const query = await validate(route.query, 'query', () => firstValues(ctx.query));
  const body = await validate(route.body, 'body', async () =>
    route.bodyFormat === 'form' ? Object.fromEntries(await ctx.form()) : ctx.json(),
  );
  return route.handler(ctx, { params, query, body, guard });
}

function firstValues(query: URLSearchParams): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of query) if (!(name in values)) values[name] = value;
  return values;
}
