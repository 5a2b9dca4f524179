import { Construct } from 'constructs';
import { GatewayRawTable, GatewayUser, GatewayViewTable, type CogniteProject, type GatewayColumn } from 'pgstacks';

/** Props of {@link CdfIngestion}. */
export interface CdfIngestionProps {
  /** The CDF project to ingest into. */
  readonly project: CogniteProject;
  /**
   * The RAW database the pump readings land in.
   * @default 'ingest'
   */
  readonly rawDatabase?: string;
}

const PUMP_COLUMNS: GatewayColumn[] = [
  { name: 'id', type: 'TEXT' },
  { name: 'pressure', type: 'DOUBLE PRECISION' },
  { name: 'measured_at', type: 'TIMESTAMPTZ' },
];

/**
 * What an ingestion team needs from the CDF PostgreSQL Gateway: one gateway user for its ETL tool
 * (e.g. an Azure Data Factory sink), a raw table its pump readings land in, and a view table over
 * the plant's pump instances.
 */
export class CdfIngestion extends Construct {
  /** The gateway user the ETL tool logs in as. */
  readonly user: GatewayUser;
  /** `pumps`: rows written here land in RAW `<rawDatabase>/pumps`, keyed by `id`. */
  readonly pumps: GatewayRawTable;
  /** `my_assets`: the plant's Pump view. */
  readonly assets: GatewayViewTable;

  constructor(scope: Construct, id: string, props: CdfIngestionProps) {
    super(scope, id);
    this.user = new GatewayUser(this, 'adf-sink', { project: props.project });
    this.pumps = new GatewayRawTable(this, 'pumps', {
      user: this.user,
      tablename: 'pumps',
      rawDatabase: props.rawDatabase ?? 'ingest',
      rawTable: 'pumps',
      primaryKey: 'id',
      columns: PUMP_COLUMNS,
    });
    this.assets = new GatewayViewTable(this, 'assets', {
      user: this.user,
      tablename: 'my_assets',
      view: { space: 'plant', externalId: 'Pump', version: 'v1' },
    });
  }
}
