/**
 * What the gateway's raw and view tables share: the name rules and the handler. The gateway has
 * no update endpoint for tables, so every change is a replacement (drop, then create the same name).
 */
import * as z from 'zod';
import type { GatewayTable, GatewayTableWrite } from '../../clients/cognite';
import { GATEWAY_BUILT_IN_TABLES, GATEWAY_TABLES_PER_CALL } from '../../services/cognite';
import type { ResourceType } from '../../runtime/resource-type';
import { cogniteApi, cogniteClient, cogniteProjectSchema, PROJECT_IDENTITY, type CogniteProjectProps } from './project';

const builtIns = new Set<string>(GATEWAY_BUILT_IN_TABLES);

export const tablenameSchema = z
  .string()
  .min(1, 'must be 1-60 characters')
  .max(60, 'must be 1-60 characters')
  .refine((name) => !builtIns.has(name.toLowerCase()), {
    error: `is the name of a built-in gateway table; choose another (built-ins: ${GATEWAY_BUILT_IN_TABLES.join(', ')})`,
  });

/** Props every gateway table has: where it lives. */
export const gatewayTableBase = {
  project: cogniteProjectSchema,
  /** The gateway user that owns the table. */
  username: z.string().min(1),
  tablename: tablenameSchema,
};

interface TableProps {
  readonly project: CogniteProjectProps;
  readonly username: string;
  readonly tablename: string;
}
type TableOutputs = { tablename: string; username: string };

const physicalId = (p: TableProps) => `${p.username}/${p.tablename}`;
const outputs = (p: TableProps): TableOutputs => ({ tablename: p.tablename, username: p.username });

/** An unknown username in the path: the user, and with it the table, is gone. */
const userGone = (err: unknown) => err instanceof cogniteApi().CogniteApiError && err.status === 404;

/** Same definition as we would create? (list answers may spell columns as a list, and types vary for views) */
function sameDefinition(existing: GatewayTable, wanted: GatewayTableWrite): boolean {
  const options = (o: unknown) => JSON.stringify(Object.entries((o ?? {}) as object).filter(([, v]) => v !== undefined).sort());
  if (options(existing.options) !== options(wanted.options)) return false;
  if (wanted.type === 'view') return true;
  const columns = Array.isArray(existing.columns)
    ? Object.fromEntries(existing.columns.map((c) => [c.propertyName ?? c.name, { type: c.type }]))
    : existing.columns;
  return JSON.stringify(columns) === JSON.stringify(wanted.columns);
}

/**
 * The handler half of a gateway table type. `toWire` builds the create request's item; `definition`
 * names the kind's own props. All of them are immutable: only the credentials used to reach CDF
 * can change without a replacement.
 */
export function gatewayTableHandler<P extends TableProps>(
  definition: readonly string[],
  toWire: (props: P) => GatewayTableWrite,
): Omit<ResourceType<P, TableOutputs>, 'name' | 'module' | 'schema'> {
  return {
    attributes: ['tablename', 'username'],
    immutable: [...PROJECT_IDENTITY, 'username', 'tablename', ...definition],
    replaceOrder: 'delete-before-create',
    defaultRemovalPolicy: 'destroy',
    // The client shares creates, reads and deletes of one user's tables, ten to a request.
    itemsPerCall: GATEWAY_TABLES_PER_CALL,
    warmUp: (props, log) => cogniteClient(props.project, { log }).warmUp(),

    async create(props, ctx) {
      const cdf = cogniteClient(props.project, ctx);
      const wanted = toWire(props);
      try {
        await cdf.createGatewayTable(props.username, wanted);
      } catch (err) {
        // A retried create can find its own first attempt; a table made by someone else is an error.
        if (!(err instanceof cogniteApi().CogniteApiError && err.status === 409)) throw err;
        const existing = await cdf.retrieveGatewayTable(props.username, props.tablename);
        if (!existing || !sameDefinition(existing, wanted)) {
          throw new Error(`user ${props.username} already has a table named '${props.tablename}' with another definition; drop it or choose another tablename`);
        }
        ctx.log(`table ${props.tablename} already existed with this definition; kept it`);
      }
      return { physicalId: physicalId(props), outputs: outputs(props) };
    },

    /** Only the credentials changed: nothing to do remotely. */
    async update(_id, _old, props) {
      return { outputs: outputs(props) };
    },

    /** The gateway's unique name for a table: its project, user and table name. */
    naturalKey: (props) => `${props.project.baseUrl} ${props.project.project} ${physicalId(props)}`,

    async read(_id, props, ctx) {
      try {
        const table = await cogniteClient(props.project, ctx).retrieveGatewayTable(props.username, props.tablename);
        // Redefined outside pgstacks (dropped and created again): the definition is drift.
        return table && { outputs: outputs(props), observed: table, drift: sameDefinition(table, toWire(props)) ? [] : [...definition] };
      } catch (err) {
        if (userGone(err)) return undefined;
        throw err;
      }
    },

    async delete(_id, props, ctx) {
      try {
        await cogniteClient(props.project, ctx).deleteGatewayTable(props.username, props.tablename);
      } catch (err) {
        if (!userGone(err)) throw err;
      }
    },

    async adopt(props, ctx) {
      const existing = await cogniteClient(props.project, ctx).retrieveGatewayTable(props.username, props.tablename).catch((err) => {
        if (userGone(err)) return undefined;
        throw err;
      });
      return existing && sameDefinition(existing, toWire(props)) ? { physicalId: physicalId(props), outputs: outputs(props) } : undefined;
    },
  };
}
