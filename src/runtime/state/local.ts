/**
 * The default state backend: a directory with one JSON file per record,
 * `<root>/<stack>/<logical id>.json`. Each write goes to a temporary file that is renamed over
 * the record, so concurrent handlers (Terraform runs 10 at a time) never see a torn record.
 */
import { promises as fs, renameSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { localMetaFile } from './location';
import { parseRecordText } from './records';
import type { LockOptions, ResourceRecord, StackMeta, StateStore } from './store';

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
/** Long enough for a stray engine from a killed run to finish what it had started. */
const LOCK_TIMEOUT_MS = 10 * 60_000;
const LOCK_NOTICE_MS = 5_000;

/** Unique to this process (a pid alone may be reused); a counter tells its temp files apart (random bytes per write cost ~70 µs each). */
const TEMP_TAG = `${process.pid}.${randomBytes(4).toString('hex')}`;

const encode = (name: string) => encodeURIComponent(name);
const decode = (file: string) => decodeURIComponent(file.slice(0, -'.json'.length));

export class LocalDirectoryStore implements StateStore {
  readonly description: string;
  private temps = 0;

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
    const file = localMetaFile(this.root, stack);
    const text = await readIfExists(file);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as StackMeta;
    } catch {
      throw new Error(`the stack metadata ${file} is not valid JSON; restore it from a backup, or delete it (the next apply asks for 'pgstacks state import' where it must)`);
    }
  }

  async putMeta(stack: string, meta: StackMeta): Promise<void> {
    await this.write(stack, localMetaFile(this.root, stack), meta);
  }

  /**
   * Writes JSON atomically: a temporary file renamed over the target, with system calls of
   * microseconds made directly. Not flushed to disk one by one: a killed process loses nothing
   * (the kernel holds the writes), while a machine that crashes mid-deploy may lose the last
   * ones, as Terraform may lose what it did since its last state snapshot. Flushing each record
   * cost a third of an engine run's own time; for writes that are durable one by one, use the
   * PostgreSQL backend.
   */
  private async write(stack: string, target: string, value: unknown): Promise<void> {
    await this.ensureDir(stack);
    const temp = `${target}.${TEMP_TAG}.${++this.temps}.tmp`;
    const text = `${JSON.stringify(value, null, 2)}\n`;
    try {
      writeFileSync(temp, text, { flag: 'wx', mode: FILE_MODE });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await fs.mkdir(this.stackDir(stack), { recursive: true, mode: DIR_MODE }); // it went away since
      writeFileSync(temp, text, { flag: 'wx', mode: FILE_MODE });
    }
    renameSync(temp, target);
  }

  /** Stacks whose lock this store holds: their directory exists. */
  private readonly made = new Set<string>();

  private async ensureDir(stack: string): Promise<void> {
    if (!this.made.has(stack)) await fs.mkdir(this.stackDir(stack), { recursive: true, mode: DIR_MODE });
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
    // While the lock is held, the directory is known to exist: writes need not make it again.
    this.made.add(stack);
    try {
      return await fn();
    } finally {
      this.made.delete(stack);
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
