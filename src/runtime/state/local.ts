/**
 * The default state backend: a directory with one JSON file per record,
 * `<root>/<stack>/<logical id>.json`. Each write goes to a temporary file that is renamed over
 * the record, so concurrent handlers (Terraform runs 10 at a time) never see a torn record.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseRecordText } from './records';
import type { LockOptions, ResourceRecord, StackMeta, StateStore } from './store';

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
/** Long enough for a stray engine from a killed run to finish what it had started. */
const LOCK_TIMEOUT_MS = 10 * 60_000;
const LOCK_NOTICE_MS = 5_000;

const encode = (name: string) => encodeURIComponent(name);
/** Not `.json`, so never taken for a record. */
const META_FILE = '_stack.meta';
const decode = (file: string) => decodeURIComponent(file.slice(0, -'.json'.length));

export class LocalDirectoryStore implements StateStore {
  readonly description: string;

  constructor(private readonly root: string) {
    this.description = `state directory ${root}`;
  }

  private stackDir(stack: string): string {
    return path.join(this.root, encode(stack));
  }

  private file(stack: string, id: string): string {
    return path.join(this.stackDir(stack), `${encode(id)}.json`);
  }

  async get(stack: string, id: string): Promise<ResourceRecord | undefined> {
    const file = this.file(stack, id);
    const text = await readIfExists(file);
    return text === undefined ? undefined : parseRecordText(text, { stack, id, location: file });
  }

  async put(record: ResourceRecord): Promise<void> {
    await this.write(record.stack, this.file(record.stack, record.id), record);
  }

  async getMeta(stack: string): Promise<StackMeta | undefined> {
    const file = path.join(this.stackDir(stack), META_FILE);
    const text = await readIfExists(file);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as StackMeta;
    } catch {
      throw new Error(`the stack metadata ${file} is not valid JSON; restore it from a backup, or delete it (the next apply asks for 'pgstacks state import' where it must)`);
    }
  }

  async putMeta(stack: string, meta: StackMeta): Promise<void> {
    await this.write(stack, path.join(this.stackDir(stack), META_FILE), meta);
  }

  /** Writes JSON atomically: a temporary file, flushed, renamed over the target. */
  private async write(stack: string, target: string, value: unknown): Promise<void> {
    const dir = this.stackDir(stack);
    await fs.mkdir(dir, { recursive: true, mode: DIR_MODE });
    const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await fs.open(temp, 'wx', FILE_MODE);
    try {
      await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, target);
  }

  async remove(stack: string, id: string): Promise<void> {
    await fs.rm(this.file(stack, id), { force: true });
  }

  async list(stack: string): Promise<ResourceRecord[]> {
    let files: string[];
    try {
      files = await fs.readdir(this.stackDir(stack));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    await removeAbandonedTemps(this.stackDir(stack), files);
    const records = await Promise.all(
      files.filter((f) => f.endsWith('.json')).map((f) => this.get(stack, decode(f))),
    );
    return records.filter((r): r is ResourceRecord => r !== undefined).sort((a, b) => a.id.localeCompare(b.id));
  }

  async stacks(): Promise<string[]> {
    try {
      const entries = await fs.readdir(this.root, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory()).map((e) => decodeURIComponent(e.name)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /** An exclusive lock file; a lock left by a dead process on this host is taken over. */
  async withLock<T>(stack: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    const dir = this.stackDir(stack);
    await fs.mkdir(dir, { recursive: true, mode: DIR_MODE });
    const lockFile = path.join(dir, '.lock');
    const owner = JSON.stringify({ pid: process.pid, host: os.hostname() });
    const started = Date.now();
    let noticed = started;
    for (;;) {
      try {
        await fs.writeFile(lockFile, owner, { flag: 'wx', mode: FILE_MODE });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (await isStale(lockFile)) {
          await fs.rm(lockFile, { force: true });
          continue;
        }
        const holder = await fs.readFile(lockFile, 'utf8').catch(() => '?');
        if (Date.now() - started > LOCK_TIMEOUT_MS) {
          throw new Error(
            `state for stack '${stack}' is still locked by ${holder} after ${LOCK_TIMEOUT_MS / 60_000} minutes (${lockFile}). ` +
              `If no pgstacks process of that stack is running any more, delete the lock file and apply again.`,
          );
        }
        if (Date.now() - noticed >= LOCK_NOTICE_MS) {
          noticed = Date.now();
          options.onWait?.(`waiting for the lock of stack '${stack}', held by ${holder} (another run of this stack)`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    try {
      return await fn();
    } finally {
      await fs.rm(lockFile, { force: true });
    }
  }
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Temporary files of writes interrupted by a kill (`<target>.<pid>.<random>.tmp`) whose writer is gone. */
async function removeAbandonedTemps(dir: string, files: readonly string[]): Promise<void> {
  for (const file of files) {
    const pid = /\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(file)?.[1];
    if (pid && !isAlive(Number(pid))) await fs.rm(path.join(dir, file), { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function isStale(lockFile: string): Promise<boolean> {
  try {
    const { pid, host } = JSON.parse(await fs.readFile(lockFile, 'utf8')) as { pid: number; host: string };
    if (host !== os.hostname()) return false;
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // ESRCH: no such process. A half-written or vanished lock file is retried, not taken.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
