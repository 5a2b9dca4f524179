import type { Construct } from 'constructs';
import type { GatewayColumnType } from '../../src/services/cognite';
import { gatewayRawTableType } from '../../src/resources/cognite/gateway-raw-table';
import { gatewayViewTableType } from '../../src/resources/cognite/gateway-view-table';
import { ManagedResource, type ManagedResourceOptions } from '../core/managed-resource';
import type { IGatewayUser } from './gateway-user';

export type { GatewayColumnType };

/** A column of a gateway raw table. */
export interface GatewayColumn {
  readonly name: string;
  /** One of the gateway's 16 column types, e.g. `TEXT`, `DOUBLE PRECISION`, `TIMESTAMPTZ`, `JSON[]`. */
  readonly type: GatewayColumnType;
}

/** What every gateway table takes. */
export interface GatewayTableProps extends ManagedResourceOptions {
  /** The gateway user that owns the table: one of this stack's, or `GatewayUser.fromUsername(...)`. */
  readonly user: IGatewayUser;
  /** The table's name in Postgres: 1-60 characters, not a built-in table's name. */
  readonly tablename: string;
}

/** Props of {@link GatewayRawTable}. */
export interface GatewayRawTableProps extends GatewayTableProps {
  /** The CDF RAW database rows are written to. */
  readonly rawDatabase: string;
  /** The CDF RAW table rows are written to. */
  readonly rawTable: string;
  /**
   * The column whose value is the RAW row key; a row written again with the same key replaces it.
   * @default - no key column
   */
  readonly primaryKey?: string;
  /** The table's columns, in order. */
  readonly columns: GatewayColumn[];
}

abstract class GatewayTable extends ManagedResource {
  /** The table's name. */
  get tablename(): string {
    return this.getAttribute('tablename');
  }
}

/**
 * A gateway table whose rows land in a CDF RAW table. The gateway cannot alter tables, so a
 * change of its definition drops and recreates it (it holds no rows itself: they are in RAW).
 */
export class GatewayRawTable extends GatewayTable {
  constructor(scope: Construct, id: string, props: GatewayRawTableProps) {
    const { user, tablename, rawDatabase, rawTable, primaryKey, columns } = props;
    super(scope, id, gatewayRawTableType, { project: user.project.connection(scope), username: user.username, tablename, rawDatabase, rawTable, primaryKey, columns }, props);
  }
}

/** A data-model view, identified by space, external id and version. */
export interface ViewId {
  readonly space: string;
  readonly externalId: string;
  /** @default - the latest version */
  readonly version?: string;
}

/** Props of {@link GatewayViewTable}. */
export interface GatewayViewTableProps extends GatewayTableProps {
  /** The view whose instances the table reads and writes. */
  readonly view: ViewId;
}

/** A gateway table over a CDF data-model view. A change drops and recreates it. */
export class GatewayViewTable extends GatewayTable {
  constructor(scope: Construct, id: string, props: GatewayViewTableProps) {
    const { user, tablename, view } = props;
    super(scope, id, gatewayViewTableType, { project: user.project.connection(scope), username: user.username, tablename, view }, props);
  }
}
