/**
 * The handler's entry point, run by the stack's pgstacks resources in Terraform:
 * `node pgstacks-handler.js reconcile` (the reconciler's create-time provisioner, and the
 * rerun's when the reconciler did not run: one engine run over the stack manifest) and
 * `destroy` (the teardown's destroy-time provisioner: delete everything the stack's records hold).
 */
import * as fs from 'node:fs';
import { VERSION as version } from '../version';
import { LifecycleEngine, PgstacksError, type RunHooks } from './engine';
import { Logger } from './log';
import { HANDLER_COMMANDS, HANDLER_ENV, type HandlerCommand } from './handler-env';
import { removeIfExists, writeAtomically } from './files';
import { fileRunMarker } from './run-marker';
import { parseManifest } from './spec';
import { closeStateStore, openStateStore } from './state';

export { HANDLER_COMMANDS, type HandlerCommand };

export interface HandlerOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly write?: (line: string) => void;
  /** Stops the run when it returns a reason (the bundle passes a watch on Terraform). */
  readonly stopReason?: () => string | undefined;
  /** Registers the resource types named (the handler bundle loads only the services a stack uses). */
  readonly loadTypes?: (names: readonly string[]) => void;
}

/** Runs one handler command; returns the exit code. Never throws. */
export async function runHandler(command: string, options: HandlerOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const logger = new Logger(options.write);
  try {
    if (!(HANDLER_COMMANDS as readonly string[]).includes(command)) {
      throw new PgstacksError(`unknown handler command '${command}' (expected ${HANDLER_COMMANDS.join(', ')})`);
    }
    const store = openStateStore(env);
    const engine = new LifecycleEngine({
      store,
      env,
      logger,
      version,
      timeoutMs: positive(env.PGSTACKS_TIMEOUT_MINUTES, 60_000),
      parallelism: positive(env.PGSTACKS_PARALLELISM, 1),
      deployment: env[HANDLER_ENV.deployment] || undefined,
      allowPlaintextSecrets: env[HANDLER_ENV.plaintextSecrets] === 'true',
      loadTypes: options.loadTypes,
    });
    const file = env[HANDLER_ENV.runMarker];
    const marker = file ? fileRunMarker(file) : undefined;
    const hooks: RunHooks = { stopReason: options.stopReason };
    try {
      if (command === 'reconcile') {
        const file = required(env, HANDLER_ENV.manifest);
        const manifest = parseManifest(fs.readFileSync(file, 'utf8'), file);
        const deployment = env[HANDLER_ENV.deployment];
        const created = createdDeployment(env);
        await engine.reconcile(manifest, {
          ...hooks,
          newDeployment: !!deployment && created?.value === deployment,
          begin: marker && (() => marker.start()),
          end: async () => {
            await marker?.finish(env[HANDLER_ENV.plannedRun] ?? '');
            await created?.remove();
            const reconciled = env[HANDLER_ENV.reconciled];
            const reconciler = env[HANDLER_ENV.reconciler];
            if (reconciled && reconciler) writeAtomically(reconciled, reconciler, { makeDirectory: true });
          },
        });
      } else {
        await engine.destroyStack(required(env, HANDLER_ENV.stack), { ...hooks, end: marker && (() => marker.clear()) });
      }
    } finally {
      await closeStateStore(store);
    }
    return 0;
  } catch (err) {
    const error = err as Error;
    const detail = error instanceof PgstacksError || !env.PGSTACKS_DEBUG ? error.message : error.stack ?? error.message;
    for (const line of logger.clean(`error: ${detail ?? String(err)}`).split('\n')) logger.line(line);
    return 1;
  }
}

/** The id the teardown left when Terraform created it (constructs/core/pgstacks.ts), if it did. */
function createdDeployment(env: NodeJS.ProcessEnv): { value: string; remove(): Promise<void> } | undefined {
  const file = env[HANDLER_ENV.newDeployment];
  if (!file) return undefined;
  try {
    return { value: fs.readFileSync(file, 'utf8').trim(), remove: async () => removeIfExists(file) };
  } catch {
    return undefined;
  }
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new PgstacksError(`${name} is not set: the handler runs from the stack's pgstacks resources in Terraform`);
  return value;
}

function positive(text: string | undefined, unit: number): number | undefined {
  const value = Number(text);
  return Number.isFinite(value) && value > 0 ? value * unit : undefined;
}

/**
 * Reports when Terraform, which started this process (the provisioner execs node, so it is the
 * parent), is gone: a handler left behind by a killed Terraform stops starting new work.
 */
export function watchParent(): () => string | undefined {
  const parent = process.ppid;
  const currentParent = () => {
    try {
      // Linux: field 4 of /proc/self/stat; the command name (field 2) may hold spaces, so split after it.
      const stat = fs.readFileSync('/proc/self/stat', 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      try {
        process.kill(parent, 0);
        return parent;
      } catch {
        return -1;
      }
    }
  };
  // Asked before each resource starts: look at most every 100 ms.
  let checked = 0;
  let gone = false;
  return () => {
    const now = Date.now();
    if (!gone && now - checked >= 100) {
      checked = now;
      gone = currentParent() !== parent;
    }
    return gone ? `the process that started this run (pid ${parent}, terraform) is gone, so no more work is started; the next apply finishes it` : undefined;
  };
}

/** For the bundle: run, then exit so idle keep-alive sockets do not hold the process open. */
export function main(argv: string[] = process.argv.slice(2), loadTypes?: (names: readonly string[]) => void): void {
  // With Terraform gone, its end of the output pipe is closed: lines are lost, but the run must
  // not crash mid-call. The parent watch stops it at the next resource instead.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  void runHandler(argv[0] ?? '', { stopReason: watchParent(), loadTypes }).then((code) => process.exit(code));
}
