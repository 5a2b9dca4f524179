/**
 * The handler's entry point: `node pgstacks-handler.js apply|delete|prune`, run by the lifecycle
 * resources' local-exec provisioners with the spec in PGSTACKS_SPEC.
 */
import { version } from '../../package.json';
import { LifecycleEngine, PgstacksError } from './engine';
import { Logger } from './log';
import { decodeSpec, isPruneSpec } from './spec';
import { openStateStore } from './state';

export const SPEC_VARIABLE = 'PGSTACKS_SPEC';
export const HANDLER_COMMANDS = ['apply', 'delete', 'prune'] as const;
export type HandlerCommand = (typeof HANDLER_COMMANDS)[number];

export interface HandlerOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly write?: (line: string) => void;
}

/** Runs one handler command; returns the exit code. Never throws. */
export async function runHandler(command: string, options: HandlerOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const logger = new Logger(options.write);
  try {
    if (!(HANDLER_COMMANDS as readonly string[]).includes(command)) {
      throw new PgstacksError(`unknown handler command '${command}' (expected ${HANDLER_COMMANDS.join(', ')})`);
    }
    const spec = decodeSpec(env[SPEC_VARIABLE]);
    const engine = new LifecycleEngine({ store: openStateStore(env), env, logger, version, timeoutMs: timeoutFrom(env) });
    if (isPruneSpec(spec)) {
      // The prune resource has no destroy work: `terraform destroy` deletes each resource itself.
      if (command !== 'delete') await engine.prune(spec);
    } else if (command === 'delete') {
      await engine.destroy(spec);
    } else {
      await engine.apply(spec);
    }
    return 0;
  } catch (err) {
    const error = err as Error;
    const detail = error instanceof PgstacksError || !env.PGSTACKS_DEBUG ? error.message : error.stack ?? error.message;
    logger.line(`error: ${logger.clean(detail ?? String(err))}`);
    return 1;
  }
}

function timeoutFrom(env: NodeJS.ProcessEnv): number | undefined {
  const minutes = Number(env.PGSTACKS_TIMEOUT_MINUTES);
  return Number.isFinite(minutes) && minutes > 0 ? minutes * 60_000 : undefined;
}

/** For the bundle: run, then exit so idle keep-alive sockets do not hold the process open. */
export function main(argv: string[] = process.argv.slice(2)): void {
  void runHandler(argv[0] ?? '').then((code) => process.exit(code));
}
