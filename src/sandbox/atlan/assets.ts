/**
 * Atlas: the assets crawls produce (Connection, Database, Schema, Table, View, MaterialisedView,
 * Column) and the metastore API over them: index search (`/search/indexsearch`, the ES DSL of
 * search.ts over the asset fields Atlan indexes) and reads by guid or by qualified name. An asset
 * a re-crawl no longer finds is soft-deleted (`status`/`__state` DELETED); the connection-delete
 * package soft-deletes or purges a connection and everything under it.
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import type { Clock } from '../clock';
import { route, type Route } from '../http';
import type { PostgresServer } from '../postgres';
import type { AssetDraft } from './crawler';
import { notFound } from './errors';
import type { AtlanIdentity } from './identity';
import { isObject, search, type FieldReader, type SearchContext } from './search';
import type { Queryable } from './credentials';

export interface Asset {
  readonly guid: string;
  readonly typeName: string;
  readonly qualifiedName: string;
  readonly connectionQualifiedName: string;
  readonly status: 'ACTIVE' | 'DELETED';
  readonly attributes: Record<string, unknown>;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly createdBy: string;
  readonly updatedBy: string;
  readonly seq: number;
}

const SUPER_TYPES: Record<string, string[]> = {
  Connection: ['Asset', 'Catalog', 'Referenceable'],
  Database: ['SQL', 'Catalog', 'Asset', 'Referenceable'],
  Schema: ['SQL', 'Catalog', 'Asset', 'Referenceable'],
  Table: ['SQL', 'Catalog', 'Asset', 'Referenceable'],
  View: ['SQL', 'Catalog', 'Asset', 'Referenceable'],
  MaterialisedView: ['SQL', 'Catalog', 'Asset', 'Referenceable'],
  Column: ['SQL', 'Catalog', 'Asset', 'Referenceable'],
};

export class AssetStore {
  constructor(
    private readonly pg: PostgresServer,
    private readonly clock: Clock,
  ) {}

  /** Creates or updates the Connection a crawl runs under (active again if it was deleted). */
  async upsertConnection(attributes: Record<string, unknown>, by: string, db: Queryable = this.pg.state): Promise<void> {
    const qn = String(attributes.qualifiedName);
    await this.upsert(db, { typeName: 'Connection', qualifiedName: qn, attributes }, qn, by);
  }

  /**
   * Makes the assets under `connectionQn` what a crawl found: new ones created, found ones
   * updated (and active), the rest (but the Connection) soft-deleted.
   */
  async sync(connectionQn: string, drafts: readonly AssetDraft[], by: string): Promise<void> {
    await this.pg.transaction(async (tx) => {
      for (const draft of drafts) await this.upsert(tx, draft, connectionQn, by);
      const now = this.clock.now();
      await tx.query(
        `UPDATE atlan.assets SET status = 'DELETED', updated_at = $3, updated_by = $4
          WHERE connection_qn = $1 AND type_name <> 'Connection' AND status = 'ACTIVE'
            AND NOT ((type_name || '|' || qualified_name) = ANY ($2::text[]))`,
        [connectionQn, drafts.map((d) => `${d.typeName}|${d.qualifiedName}`), now, by],
      );
    });
  }

  private async upsert(db: Queryable, draft: AssetDraft, connectionQn: string, by: string): Promise<void> {
    const now = this.clock.now();
    await db.query(
      `INSERT INTO atlan.assets (guid, type_name, qualified_name, connection_qn, status, attributes, created_at, updated_at, created_by, updated_by)
       VALUES ($1, $2, $3, $4, 'ACTIVE', $5, $6, $6, $7, $7)
       ON CONFLICT (type_name, qualified_name) DO UPDATE
         SET status = 'ACTIVE', attributes = EXCLUDED.attributes, connection_qn = EXCLUDED.connection_qn,
             updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
         WHERE atlan.assets.attributes IS DISTINCT FROM EXCLUDED.attributes OR atlan.assets.status <> 'ACTIVE'`,
      [randomUUID(), draft.typeName, draft.qualifiedName, connectionQn, JSON.stringify({ ...draft.attributes, qualifiedName: draft.qualifiedName }), now, by],
    );
  }

  /** The connection-delete package: SOFT marks the connection and its assets deleted, PURGE removes them. */
  async deleteConnection(connectionQn: string, purge: boolean, by: string): Promise<number> {
    if (purge) return (await this.pg.state.query('DELETE FROM atlan.assets WHERE connection_qn = $1', [connectionQn])).rowCount ?? 0;
    const result = await this.pg.state.query(
      `UPDATE atlan.assets SET status = 'DELETED', updated_at = $2, updated_by = $3 WHERE connection_qn = $1 AND status = 'ACTIVE'`,
      [connectionQn, this.clock.now(), by],
    );
    return result.rowCount ?? 0;
  }

  async connection(qualifiedName: string): Promise<Asset | undefined> {
    const row = (await this.pg.state.query(`SELECT * FROM atlan.assets WHERE type_name = 'Connection' AND qualified_name = $1`, [qualifiedName])).rows[0];
    return row ? toAsset(row) : undefined;
  }

  async byGuid(guid: string): Promise<Asset | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(guid)) return undefined;
    const row = (await this.pg.state.query('SELECT * FROM atlan.assets WHERE guid = $1', [guid])).rows[0];
    return row ? toAsset(row) : undefined;
  }

  async byQualifiedName(typeName: string, qualifiedName: string): Promise<Asset | undefined> {
    const row = (await this.pg.state.query('SELECT * FROM atlan.assets WHERE lower(type_name) = lower($1) AND qualified_name = $2', [typeName, qualifiedName])).rows[0];
    return row ? toAsset(row) : undefined;
  }

  /** Assets the index already shows (created at least `lagMs` ago), of `typeNames` if given. */
  async indexed(lagMs: number, typeNames?: readonly string[]): Promise<Asset[]> {
    const rows = (
      await this.pg.state.query(
        `SELECT * FROM atlan.assets WHERE created_at <= $1 AND ($2::text[] IS NULL OR lower(type_name) = ANY ($2::text[])) ORDER BY seq`,
        [this.clock.now() - lagMs, typeNames ? typeNames.map((t) => t.toLowerCase()) : null],
      )
    ).rows;
    return rows.map(toAsset);
  }
}

function toAsset(row: Record<string, any>): Asset {
  return {
    guid: row.guid,
    typeName: row.type_name,
    qualifiedName: row.qualified_name,
    connectionQualifiedName: row.connection_qn,
    status: row.status,
    attributes: row.attributes,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    createdBy: row.created_by,
    updatedBy: row.updated_by,
    seq: Number(row.seq),
  };
}

/**
 * Atlan's index field names: `__typeName`, `__guid`, `__state`, `__superTypeNames`, timestamps and
 * users; anything else is an attribute (`name`, `qualifiedName`, `connectionQualifiedName`, ...).
 * Type names and the analysed `name` text field compare without case; `.keyword` fields exactly.
 */
const readAsset: FieldReader<Asset> = (asset, field) => {
  const keyword = field.endsWith('.keyword');
  const base = keyword ? field.slice(0, -'.keyword'.length) : field;
  switch (base) {
    case '__typeName':
    case 'typeName':
      return { values: [asset.typeName], caseInsensitive: true };
    case '__superTypeNames':
      return { values: SUPER_TYPES[asset.typeName] ?? [], caseInsensitive: true };
    case '__guid':
    case 'guid':
      return { values: [asset.guid] };
    case '__state':
      return { values: [asset.status] };
    case '__timestamp':
      return { values: [asset.createdAt] };
    case '__modificationTimestamp':
      return { values: [asset.updatedAt] };
    case '__createdBy':
      return { values: [asset.createdBy] };
    case '__modifiedBy':
      return { values: [asset.updatedBy] };
    case '__qualifiedNameHierarchy':
      return { values: hierarchy(asset.qualifiedName) };
    default: {
      const value = asset.attributes[base];
      const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
      // Text fields (name, description) are analysed: a term on them ignores case.
      return { values, caseInsensitive: !keyword && (base === 'name' || base === 'description') };
    }
  }
};

function hierarchy(qualifiedName: string): string[] {
  const parts = qualifiedName.split('/');
  return parts.map((_, i) => parts.slice(0, i + 1).join('/')).slice(2);
}

/** The entity as Atlas returns it: `attributes` holds qualifiedName, name and the ones asked for (`*` for all). */
export function entity(asset: Asset, wanted?: readonly string[]): Record<string, unknown> {
  const all = wanted === undefined || wanted.includes('*');
  const attributes: Record<string, unknown> = { qualifiedName: asset.qualifiedName, name: asset.attributes.name };
  for (const [key, value] of Object.entries(asset.attributes)) if (all || wanted.includes(key)) attributes[key] = value;
  return {
    typeName: asset.typeName,
    guid: asset.guid,
    status: asset.status,
    displayText: asset.attributes.name,
    attributes,
    classificationNames: [],
    classifications: [],
    meaningNames: [],
    meanings: [],
    labels: [],
    isIncomplete: false,
    createdBy: asset.createdBy,
    updatedBy: asset.updatedBy,
    createTime: asset.createdAt,
    updateTime: asset.updatedAt,
  };
}

const indexSearchBody = z.looseObject({
  dsl: z.looseObject({
    from: z.number().int().min(0).default(0),
    size: z.number().int().min(0).max(10_000).default(300),
    query: z.unknown().optional(),
    post_filter: z.unknown().optional(),
    sort: z.unknown().optional(),
  }),
  attributes: z.array(z.string()).optional(),
  relationAttributes: z.array(z.string()).optional(),
});

/** The `__typeName` values a query requires at its top level, to read fewer rows (the query still decides). */
function requiredTypeNames(query: unknown): string[] | undefined {
  if (!isObject(query) || !isObject(query.bool)) return undefined;
  const clauses = [query.bool.filter, query.bool.must].flatMap((c) => (c === undefined ? [] : Array.isArray(c) ? c : [c]));
  for (const clause of clauses) {
    if (!isObject(clause)) continue;
    const term = isObject(clause.term) ? clause.term : undefined;
    const terms = isObject(clause.terms) ? clause.terms : undefined;
    for (const field of ['__typeName.keyword', '__typeName']) {
      const t = term?.[field];
      if (t !== undefined) return [String(isObject(t) ? t.value : t)];
      const ts = terms?.[field];
      if (Array.isArray(ts)) return ts.map(String);
    }
  }
  return undefined;
}

export function assetRoutes(store: AssetStore, identity: AtlanIdentity, options: { clock: Clock; indexLagMs: () => number }): Route[] {
  const read = identity.guard('read');
  const withRelations = (asset: Asset, wanted?: readonly string[]) => ({ entity: entity(asset, wanted), referredEntities: {} });
  return [
    route({
      method: 'POST',
      path: '/search/indexsearch',
      guard: read,
      body: indexSearchBody,
      async handler(_ctx, { body }) {
        const { dsl } = body;
        const docs = await store.indexed(options.indexLagMs(), requiredTypeNames(dsl.query));
        const ctx: SearchContext<Asset> = { read: readAsset, id: (a) => a.guid, seq: (a) => a.seq, now: options.clock.now() };
        const { total, page } = search(docs, dsl, ctx, 300);
        const entities = page.map(({ doc }) => entity(doc, body.attributes ?? []));
        return {
          queryType: 'INDEX',
          searchParameters: { ...body, showSearchScore: body.showSearchScore ?? false, suppressLogs: body.suppressLogs ?? true },
          // Atlas leaves out what is null: no match means no `entities` at all.
          ...(entities.length > 0 ? { entities } : {}),
          approximateCount: total,
        };
      },
    }),
    route({
      method: 'GET',
      path: '/entity/guid/:guid',
      guard: read,
      params: z.object({ guid: z.string() }),
      async handler(_ctx, { params }) {
        const asset = await store.byGuid(params.guid);
        if (!asset) throw notFound(`Given instance guid ${params.guid} is invalid/not found`);
        return withRelations(asset);
      },
    }),
    route({
      method: 'GET',
      path: '/entity/uniqueAttribute/type/:typeName',
      guard: read,
      params: z.object({ typeName: z.string() }),
      query: z.looseObject({ 'attr:qualifiedName': z.string().min(1) }),
      async handler(_ctx, { params, query }) {
        const qn = query['attr:qualifiedName'];
        const asset = await store.byQualifiedName(params.typeName, qn);
        if (!asset) throw notFound(`Instance ${params.typeName} with unique attribute {qualifiedName:${qn}} does not exist`);
        return withRelations(asset);
      },
    }),
  ];
}
