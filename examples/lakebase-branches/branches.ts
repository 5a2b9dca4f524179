import { Construct } from 'constructs';
import { Duration, LakebaseBranch, LakebaseDatabase, LakebaseEndpoint, LakebaseProject, LakebaseRole, RemovalPolicy, type DatabricksWorkspace, type EndpointSettings } from 'pgstacks';

/** Props of {@link LakebaseBranches}. */
export interface LakebaseBranchesProps {
  readonly workspace: DatabricksWorkspace;
  /** The Lakebase project's id. @default 'app' */
  readonly projectId?: string;
  /** One development branch per team, named after it (lowercase letters, digits and `-`). */
  readonly teams: string[];
  /** Each team endpoint's autoscaling. @default 0.5-2 CU, suspended after 5 minutes idle */
  readonly endpointSettings?: EndpointSettings;
}

/** What one team gets: a branch of production, its read-write endpoint, a role and a database it owns. */
export interface TeamBranch {
  readonly branch: LakebaseBranch;
  readonly endpoint: LakebaseEndpoint;
  readonly role: LakebaseRole;
  readonly database: LakebaseDatabase;
}

/**
 * A Lakebase project with a development branch per team. Each branch starts as a copy of
 * production's data and gets its own compute (the branch's `primary` endpoint, adopted and sized
 * here), a role for the team and a database the role owns. Team branches are deleted with the
 * stack; the project and its production branch are retained.
 */
export class LakebaseBranches extends Construct {
  readonly project: LakebaseProject;
  readonly production: LakebaseBranch;
  readonly teams: Record<string, TeamBranch> = {};

  constructor(scope: Construct, id: string, props: LakebaseBranchesProps) {
    super(scope, id);
    const settings = props.endpointSettings ?? { minCu: 0.5, maxCu: 2, suspendTimeout: Duration.minutes(5) };
    this.project = new LakebaseProject(this, 'project', { workspace: props.workspace, projectId: props.projectId ?? 'app', displayName: 'Application database' });
    this.production = new LakebaseBranch(this, 'production', { project: this.project, branchId: 'production', isProtected: true });
    for (const team of props.teams) {
      const branch = new LakebaseBranch(this, team, { project: this.project, branchId: `dev-${team}`, sourceBranch: this.production, removalPolicy: RemovalPolicy.DESTROY, purgeOnDelete: true });
      const endpoint = new LakebaseEndpoint(branch, 'endpoint', { branch, endpointId: 'primary', ...settings });
      const role = new LakebaseRole(branch, 'role', { branch, roleId: `team-${team}`, postgresRole: `team_${team.replace(/-/g, '_')}`, attributes: { createdb: true } });
      const database = new LakebaseDatabase(branch, 'database', { branch, databaseId: `${team}-db`, owner: role, removalPolicy: RemovalPolicy.DESTROY });
      this.teams[team] = { branch, endpoint, role, database };
    }
  }
}
