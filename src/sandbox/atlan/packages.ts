/**
 * What a run does, read from a legacy WorkflowTemplate's parameters or an App's inputs and
 * checked the way the crawler would: the `connection` entity (qualified name
 * `default/postgres/<epoch>`, a name, at least one admin, every admin known), the include and
 * exclude maps, the temp-table regex and the credential. Both APIs end in the same RunConfig,
 * which the run engine (runs.ts) carries out.
 */
import { ATLAN_CONNECTION_QUALIFIED_NAME, ATLAN_CONNECTOR_TYPE, ATLAN_DELETE_TYPES, ATLAN_EXTRACTION_METHODS, ATLAN_PACKAGES } from '../../services/atlan';
import type { FilterMap } from './crawler';
import { badRequest } from './errors';
import { GROUPS, ROLES } from './identity';
import { isObject } from './search';

export interface PostgresCrawlConfig {
  readonly package: 'postgres';
  readonly extraction: (typeof ATLAN_EXTRACTION_METHODS)[number];
  /** The credential the crawl connects with (absent for offline extraction). */
  readonly credentialId?: string;
  /** The Connection entity's attributes, `defaultCredentialGuid` resolved. */
  readonly connection: Record<string, unknown>;
  readonly include: FilterMap;
  readonly exclude: FilterMap;
  readonly tempTableRegex?: string;
  readonly sourceSchemaFiltering: boolean;
  readonly jdbcInternalMethods: boolean;
}

export interface ConnectionDeleteConfig {
  readonly package: 'connection-delete';
  readonly connectionQualifiedName: string;
  readonly deleteType: (typeof ATLAN_DELETE_TYPES)[number];
  readonly deleteAssets: boolean;
}

export type RunConfig = PostgresCrawlConfig | ConnectionDeleteConfig;

/** The placeholder the client puts where the server substitutes the new credential's guid. */
export const CREDENTIAL_PLACEHOLDER = '{{credentialGuid}}';

/** The packages the emulator runs, by WorkflowTemplate ref. */
export const KNOWN_PACKAGES: Record<string, RunConfig['package']> = {
  [ATLAN_PACKAGES.postgres.prefix]: 'postgres',
  [ATLAN_PACKAGES.connectionDelete.prefix]: 'connection-delete',
};

/** Who may administer a connection: what the directory knows. */
export interface Admins {
  readonly usernames: ReadonlySet<string>;
}

/** Parses and checks a Connection entity (a JSON string in legacy parameters, an object in App inputs). */
export function parseConnection(value: unknown, where: string, admins: Admins): Record<string, unknown> {
  let entity = value;
  if (typeof value === 'string') {
    try {
      entity = JSON.parse(value);
    } catch {
      throw badRequest(`Invalid ${where}: not JSON`);
    }
  }
  if (!isObject(entity) || !isObject(entity.attributes)) throw badRequest(`Invalid ${where}: expected {"typeName": "Connection", "attributes": {...}}`);
  if (entity.typeName !== undefined && entity.typeName !== 'Connection') throw badRequest(`Invalid ${where}: typeName must be 'Connection', not '${String(entity.typeName)}'`);
  const attributes = { ...entity.attributes };
  const qn = attributes.qualifiedName;
  if (typeof qn !== 'string' || !ATLAN_CONNECTION_QUALIFIED_NAME.test(qn)) {
    throw badRequest(`Invalid ${where}: attributes.qualifiedName must look like default/postgres/<epoch seconds>, not ${JSON.stringify(qn)}`);
  }
  if (typeof attributes.name !== 'string' || attributes.name.trim() === '') throw badRequest(`Invalid ${where}: attributes.name is required`);
  if (attributes.connectorName !== undefined && attributes.connectorName !== ATLAN_CONNECTOR_TYPE) {
    throw badRequest(`Invalid ${where}: attributes.connectorName must be '${ATLAN_CONNECTOR_TYPE}', not '${String(attributes.connectorName)}'`);
  }
  const list = (key: string): string[] => {
    const v = attributes[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw badRequest(`Invalid ${where}: attributes.${key} must be a list of strings`);
    return v as string[];
  };
  const [roles, groups, users] = [list('adminRoles'), list('adminGroups'), list('adminUsers')];
  if (roles.length + groups.length + users.length === 0) throw badRequest(`Invalid ${where}: a connection needs at least one admin (adminRoles, adminGroups or adminUsers)`);
  const unknownRole = roles.find((id) => !ROLES.some((r) => r.id === id));
  if (unknownRole) throw badRequest(`Invalid ${where}: adminRoles holds '${unknownRole}', which is no role's id (role names such as $admin resolve to ids through GET /api/service/roles)`);
  const unknownGroup = groups.find((name) => !GROUPS.some((g) => g.name === name));
  if (unknownGroup) throw badRequest(`Invalid ${where}: adminGroups holds '${unknownGroup}', which is no group's internal name`);
  const unknownUser = users.find((name) => !admins.usernames.has(name));
  if (unknownUser) throw badRequest(`Invalid ${where}: adminUsers holds '${unknownUser}', which is no user's username`);
  return {
    connectorName: ATLAN_CONNECTOR_TYPE,
    category: 'database',
    allowQuery: true,
    allowQueryPreview: true,
    rowLimit: 10000,
    isDiscoverable: true,
    isEditable: false,
    ...attributes,
    adminRoles: roles,
    adminGroups: groups,
    adminUsers: users,
  };
}

/** Parses an include or exclude map: a JSON string (or object) of database regex → schema regexes. */
export function parseFilterMap(value: unknown, where: string): FilterMap {
  let map = value;
  if (value === undefined || value === null || value === '') return {};
  if (typeof value === 'string') {
    try {
      map = JSON.parse(value);
    } catch {
      throw badRequest(`Invalid ${where}: not JSON: ${value}`);
    }
  }
  if (!isObject(map)) throw badRequest(`Invalid ${where}: expected a JSON object of database → [schemas]`);
  const result: Record<string, string[]> = {};
  for (const [db, schemas] of Object.entries(map)) {
    if (!Array.isArray(schemas) || schemas.some((s) => typeof s !== 'string')) throw badRequest(`Invalid ${where}: the value for '${db}' must be a list of schema patterns`);
    for (const pattern of [db, ...(schemas as string[])]) checkRegex(pattern, where);
    result[db] = schemas as string[];
  }
  return result;
}

export function checkRegex(pattern: string, where: string): void {
  try {
    new RegExp(pattern);
  } catch {
    throw badRequest(`Invalid ${where}: '${pattern}' is not a valid regular expression`);
  }
}

/** A boolean parameter: JSON `true`/`false` (legacy) or the strings `"true"`/`"false"` (App inputs). */
export function parseFlag(value: unknown, where: string, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw badRequest(`Invalid ${where}: expected true or false, not ${JSON.stringify(value)}`);
}

export function parseExtraction(value: unknown, where: string): PostgresCrawlConfig['extraction'] {
  const method = value === undefined || value === null || value === '' ? 'direct' : value;
  if (!ATLAN_EXTRACTION_METHODS.includes(method as never)) throw badRequest(`Invalid ${where}: '${String(method)}' is not one of ${ATLAN_EXTRACTION_METHODS.join(', ')}`);
  return method as PostgresCrawlConfig['extraction'];
}

/** `spec.templates[0].dag.tasks[0]`: its templateRef and parameters (name → value), as the SDKs build them. */
export function templateTask(spec: unknown): { ref: string | undefined; parameters: Map<string, unknown> } {
  const templates = isObject(spec) && Array.isArray(spec.templates) ? spec.templates : [];
  const main = templates.find((t) => isObject(t) && isObject(t.dag)) as Record<string, any> | undefined;
  const task = Array.isArray(main?.dag?.tasks) ? main!.dag.tasks[0] : undefined;
  const ref = isObject(task) && isObject(task.templateRef) && typeof task.templateRef.name === 'string' ? task.templateRef.name : undefined;
  const parameters = new Map<string, unknown>();
  const list = isObject(task) && isObject(task.arguments) && Array.isArray(task.arguments.parameters) ? task.arguments.parameters : [];
  for (const p of list) if (isObject(p) && typeof p.name === 'string') parameters.set(p.name, p.value);
  return { ref, parameters };
}

/** Replaces the credential placeholder in every parameter value of a template spec. */
export function substituteCredential(spec: unknown, credentialId: string): unknown {
  return JSON.parse(JSON.stringify(spec).split(CREDENTIAL_PLACEHOLDER).join(credentialId));
}

/** A legacy template's run config, from its (credential-substituted) parameters. */
export function legacyConfig(pkg: RunConfig['package'], parameters: Map<string, unknown>, admins: Admins): RunConfig {
  const param = (name: string) => parameters.get(name);
  if (pkg === 'connection-delete') {
    const qn = param('connection-qualified-name');
    if (typeof qn !== 'string' || qn === '') throw badRequest('Invalid workflow: parameter connection-qualified-name is required');
    const deleteType = param('delete-type') ?? 'SOFT';
    if (!ATLAN_DELETE_TYPES.includes(deleteType as never)) throw badRequest(`Invalid workflow: parameter delete-type must be SOFT or PURGE, not ${JSON.stringify(deleteType)}`);
    return { package: pkg, connectionQualifiedName: qn, deleteType: deleteType as ConnectionDeleteConfig['deleteType'], deleteAssets: parseFlag(param('delete-assets'), 'parameter delete-assets', true) };
  }
  const extraction = parseExtraction(param('extraction-method'), 'parameter extraction-method');
  const guid = param('credential-guid');
  const connection = parseConnection(param('connection'), 'parameter connection', admins);
  const regex = param('temp-table-regex');
  if (regex !== undefined && typeof regex !== 'string') throw badRequest('Invalid parameter temp-table-regex: expected a string');
  if (regex) checkRegex(regex, 'parameter temp-table-regex');
  return {
    package: pkg,
    extraction,
    credentialId: typeof guid === 'string' && guid !== '' && guid !== CREDENTIAL_PLACEHOLDER ? guid : undefined,
    connection,
    include: parseFilterMap(param('include-filter'), 'parameter include-filter'),
    exclude: parseFilterMap(param('exclude-filter'), 'parameter exclude-filter'),
    tempTableRegex: regex || undefined,
    sourceSchemaFiltering: parseFlag(param('use-source-schema-filtering'), 'parameter use-source-schema-filtering', false),
    jdbcInternalMethods: parseFlag(param('use-jdbc-internal-methods'), 'parameter use-jdbc-internal-methods', true),
  };
}
