/**
 * Test-only resource types over the WidgetServer:
 * - `test:widget`: unique names, so replacement is delete-before-create; DESTROY by default.
 * - `test:gadget`: names may repeat, so replacement is create-before-delete; RETAIN by default.
 */
import * as z from 'zod';
import { send } from '../../src/clients/http';
import { defineResourceType, type HandlerContext, type ResourceType } from '../../src/runtime/resource-type';
import type { Thing } from './widget-server';

export const thingSchema = z
  .object({
    endpoint: z.url(),
    name: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'expected 1-40 lowercase letters, digits or -, starting with a letter'),
    size: z.number().int().min(1).max(100),
    color: z.enum(['red', 'green', 'blue']).optional(),
    label: z.string().optional(),
    token: z.string().optional(),
  })
  .strict();

export type ThingProps = z.infer<typeof thingSchema>;
type ThingOutputs = { id: string; name: string; size: number; color: string | null; label: string | null };

async function call(props: ThingProps, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown) {
  // The service clients' HTTP plumbing, without retries: the tests count every call.
  const res = await send({
    url: `${props.endpoint}${path}`,
    method,
    headers: { 'content-type': 'application/json', ...(props.token ? { authorization: `Bearer ${props.token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    retry: { statusCodes: [], errorCodes: [] },
  });
  const text = res.text;
  if (res.status >= 400 && res.status !== 404) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

const outputs = (t: Thing): ThingOutputs => ({ id: t.id, name: t.name, size: t.size, color: t.color ?? null, label: t.label ?? null });

function thingType(name: 'test:widget' | 'test:gadget', collection: string, options: Pick<ResourceType<ThingProps, ThingOutputs>, 'replaceOrder' | 'defaultRemovalPolicy' | 'naturalKey'>) {
  return defineResourceType<ThingProps, ThingOutputs>({
    name,
    module: __filename,
    schema: thingSchema,
    attributes: ['id', 'name', 'size', 'color', 'label'],
    secretAttributes: ['apiKey'],
    immutable: ['endpoint', 'name'],
    ...options,

    async create(props, ctx: HandlerContext) {
      const { status, headers, json } = await call(props, 'POST', `/${collection}`, { name: props.name, size: props.size, color: props.color, label: props.label });
      if (status !== 201) throw new Error(`create returned HTTP ${status}`);
      if (headers['x-test-crash-after-create']) process.kill(process.pid, 'SIGKILL');
      ctx.log(`made ${collection} ${json.id}`);
      return { physicalId: json.id, outputs: outputs(json), secretOutputs: { apiKey: json.apiKey } };
    },
    async read(id, props) {
      const { status, json } = await call(props, 'GET', `/${collection}/${id}`);
      if (status === 404) return undefined;
      const drift = (['size', 'color', 'label'] as const).filter((key) => (json[key] ?? undefined) !== props[key]);
      return { outputs: outputs(json), observed: json, drift };
    },
    async update(id, _old, props) {
      const { status, json } = await call(props, 'PATCH', `/${collection}/${id}`, { size: props.size, color: props.color ?? null, label: props.label ?? null });
      if (status === 404) throw new Error(`${collection} ${id} not found`);
      return { outputs: outputs(json) };
    },
    async delete(id, props) {
      await call(props, 'DELETE', `/${collection}/${id}`);
    },
    async adopt(props) {
      const { json } = await call(props, 'GET', `/${collection}?name=${encodeURIComponent(props.name)}`);
      const found = (json.items as Thing[])[0];
      return found && { physicalId: found.id, outputs: outputs(found), secretOutputs: { apiKey: found.apiKey } };
    },
  });
}

export const widgetType = thingType('test:widget', 'widgets', {
  replaceOrder: 'delete-before-create',
  defaultRemovalPolicy: 'destroy',
  naturalKey: (props: ThingProps) => `${props.endpoint} ${props.name}`,
});
export const gadgetType = thingType('test:gadget', 'gadgets', { replaceOrder: 'create-before-delete', defaultRemovalPolicy: 'retain' });
