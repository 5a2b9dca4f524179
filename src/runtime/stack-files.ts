/**
 * Finds a synthesized stack from anywhere in its cdktf app, as cdktf finds cdktf.json: the
 * project folder, the stack's output folder, and what its reconciler hands the handler (the
 * manifest, the state directory), so the CLI sees exactly what `terraform apply` will run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HANDLER_ENV } from './handler-env';
import { DEFAULT_STATE_DIR_VARIABLE, STATE_DATABASE_FROM_VARIABLE, STATE_SCHEMA_VARIABLE } from './state/location';

export interface LocatedStack {
  /** `<project>/cdktf.out/stacks/<stack>`: Terraform's working directory for the stack. */
  readonly directory: string;
  /** The manifest file the reconciler runs. */
  readonly manifest: string;
  /** The state directory it was synthesized with. */
  readonly stateDirectory: string;
  /** The state store settings it was synthesized with (which variable holds a connection string). */
  readonly stateEnvironment: Record<string, string>;
}

/** The folder holding cdktf.json, searched upward from `from`. */
export function findProjectDirectory(from = process.cwd()): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'cdktf.json'))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The default state directory of the app around `from` (or of `from` itself). */
export function defaultStateDirectory(from = process.cwd()): string {
  return path.join(findProjectDirectory(from) ?? path.resolve(from), '.pgstacks', 'state');
}

/** The synthesized stack `stack`, or undefined when there is none to find. */
export function locateStack(stack: string, from = process.cwd()): LocatedStack | undefined {
  const project = findProjectDirectory(from);
  if (!project) return undefined;
  let output = 'cdktf.out';
  try {
    output = (JSON.parse(fs.readFileSync(path.join(project, 'cdktf.json'), 'utf8')) as { output?: string }).output ?? output;
  } catch {
    // an unreadable cdktf.json: cdktf itself would fail; keep the default
  }
  const directory = path.resolve(project, output, 'stacks', stack);
  let config: { resource?: Record<string, Record<string, { provisioner?: Array<Record<string, { environment?: Record<string, string> }>> }>> };
  try {
    config = JSON.parse(fs.readFileSync(path.join(directory, 'cdk.tf.json'), 'utf8'));
  } catch {
    return undefined;
  }
  const reconciler = config.resource?.terraform_data?.pgstacks ?? config.resource?.null_resource?.pgstacks;
  const environment = reconciler?.provisioner?.[0]?.['local-exec']?.environment;
  if (!environment?.[HANDLER_ENV.manifest]) return undefined;
  return {
    directory,
    manifest: path.resolve(directory, environment[HANDLER_ENV.manifest]),
    stateDirectory: path.resolve(directory, environment[DEFAULT_STATE_DIR_VARIABLE] ?? path.join('..', '..', '..', '.pgstacks', 'state')),
    stateEnvironment: Object.fromEntries(
      [STATE_DATABASE_FROM_VARIABLE, STATE_SCHEMA_VARIABLE, HANDLER_ENV.plaintextSecrets].filter((name) => environment[name]).map((name) => [name, environment[name]]),
    ),
  };
}
