/**
 * The default state backend: a directory per stack, `<root>/<stack>/`, with
 * - `_stack.records`: the records as of the end of the last run that held the stack's lock, one
 *   JSON object keyed by logical id;
 * - `_stack.journal`: every write since, one JSON line each (`{"id":…,"put":record}` or
 *   `{"id":…,"remove":true}`), in order.
 * A write is one append to the journal: a killed process loses nothing it wrote (the kernel holds
 * it). A line is whole, or it is the journal's last and cut short: the machine went down, or the
 * writer was killed during a write of several pages (Linux stops such a write at a page boundary).
 * Readers ignore that line, and the next run to take the lock cuts it off before it writes, so its
 * own lines do not continue it. The run that holds the lock folds the journal into the records
 * file when it ends (a temporary file renamed over it). An engine run writes two records per
 * resource it creates: as files of their own, those cost a run on a busy runner ~40 ms per 100
 * resources.
 * Records of earlier versions, a `<logical id>.json` file each, are read while there is no records
 * file, and removed once one is written.
 * Files are read and written with Node's synchronous calls (files.ts).
 */
import { appendFileSync, closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readIfExists, removeIfExists, tempWriter, writeAtomically } from '../files';
import { localMetaFile } from './location';
import { parseRecord, parseRecordText } from './records';
import type { LockOptions, ResourceRecord, StackMeta, StateStore } from './store';

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
/** Long enough for a stray engine from a killed run to finish what it had started. */
const LOCK_TIMEOUT_MS = 10 * 60_000;
const LOCK_NOTICE_MS = 5_000;
const RECORDS_FILE = '_stack.records';
const JOURNAL_FILE = '_stack.journal';

const encode = (name: string) => encodeURIComponent(name);
const decode = (file: string) => decodeURIComponent(file.slice(0, -'.json'.length));

/** A record as stored, not yet validated, and where it is (for messages). */
interface StoredRecord {
  readonly location: string;
  /** Decoded JSON; or, from a file of an earlier version, its text. */
  readonly raw?: unknown;
  readonly text?: string;
}

interface JournalLine {
  readonly id: string;
  readonly put?: ResourceRecord;
  readonly remove?: true;
}

export class LocalDirectoryStore implements StateStore {
  readonly description: string;

  constructor(private readonly root: string) {
    this.description = `state directory ${root}`;
  }

  private stackDir(stack: string): string {
    return path.join(this.root, encode(stack));
  }

  async get(stack: string, id: string): Promise<ResourceRecord | undefined> {
    const stored = (await this.load(stack)).get(id);
    return stored && validate(stack, id, stored);
  }

  async list(stack: string): Promise<ResourceRecord[]> {
    const stored = await this.load(stack);
    return [...stored].map(([id, s]) => validate(stack, id, s)).sort((a, b) => a.id.localeCompare(b.id));
  }

  async put(record: ResourceRecord): Promise<void> {
    await this.append(record.stack, { id: record.id, put: record });
  }

  async remove(stack: string, id: string): Promise<void> {
    await this.append(stack, { id, remove: true });
  }

  async getMeta(stack: string): Promise<StackMeta | undefined> {
    const file = localMetaFile(this.root, stack);
    const text = readIfExists(file);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as StackMeta;
    } catch {
      throw new Error(`the stack metadata ${file} is not valid JSON; restore it from a backup, or delete it (the next apply asks for 'pgstacks state import' where it must)`);
    }
  }

  async putMeta(stack: string, meta: StackMeta): Promise<void> {
    await this.ensureDir(stack);
    writeAtomically(localMetaFile(this.root, stack), `${JSON.stringify(meta, null, 2)}\n`);
  }

  async stacks(): Promise<string[]> {
    try {
      const entries = readdirSync(this.root, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory()).map((e) => decodeURIComponent(e.name)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /** An exclusive lock file; a lock left by a dead process on this host is taken over. */
  async withLock<T>(stack: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    const dir = this.stackDir(stack);
    mkdirSync(dir, { recursive: true, mode: DIR_MODE });
    const lockFile = path.join(dir, '.lock');
    const owner = JSON.stringify({ pid: process.pid, host: os.hostname() });
    const started = Date.now();
    let noticed = started;
    for (;;) {
      try {
        writeFileSync(lockFile, owner, { flag: 'wx', mode: FILE_MODE });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (isStale(lockFile)) {
          removeIfExists(lockFile);
          continue;
        }
        let holder = '?';
        try {
          holder = readFileSync(lockFile, 'utf8');
        } catch {
          // released meanwhile
        }
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
    cutUnfinishedLine(path.join(dir, JOURNAL_FILE));
    // While the lock is held, the directory is known to exist: writes need not make it again.
    this.made.add(stack);
    try {
      const result = await fn();
      await this.compact(stack);
      return result;
    } finally {
      this.made.delete(stack);
      removeIfExists(lockFile);
    }
  }

  /** Stacks whose lock this store holds: their directory exists. */
  private readonly made = new Set<string>();

  private async ensureDir(stack: string): Promise<void> {
    if (!this.made.has(stack)) mkdirSync(this.stackDir(stack), { recursive: true, mode: DIR_MODE });
  }

  /** Journal lines waiting for their write, per stack. */
  private readonly pending = new Map<string, { text: string; written: Promise<void> }>();

  /**
   * Appends a line; it is written when the current turn of the event loop ends, in one write with
   * the lines of every other write made in it (the intents of the resources an engine starts
   * together: one write, not one per resource). A write resolves once its line is written, and
   * concurrent writers' lines never interleave within a line.
   */
  private append(stack: string, line: JournalLine): Promise<void> {
    const text = `${JSON.stringify(line)}\n`;
    const waiting = this.pending.get(stack);
    if (waiting) {
      waiting.text += text;
      return waiting.written;
    }
    const written = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      this.pending.delete(stack);
      await this.ensureDir(stack);
      appendFileSync(path.join(this.stackDir(stack), JOURNAL_FILE), batch.text, { mode: FILE_MODE });
    });
    const batch = { text, written };
    this.pending.set(stack, batch);
    return batch.written;
  }

  /** The stack's records as stored: the records file (or the files of an earlier version), then the journal. */
  private async load(stack: string): Promise<Map<string, StoredRecord>> {
    const dir = this.stackDir(stack);
    const records = new Map<string, StoredRecord>();
    const recordsFile = path.join(dir, RECORDS_FILE);
    const text = readIfExists(recordsFile);
    if (text !== undefined) {
      for (const [id, raw] of Object.entries(parseStateFile(text, recordsFile))) records.set(id, { raw, location: `${recordsFile}, record '${id}'` });
    } else {
      for (const [id, file] of legacyFiles(dir, filesIn(dir))) {
        const legacy = readIfExists(file);
        if (legacy !== undefined) records.set(id, { text: legacy, location: file });
      }
    }
    const journalFile = path.join(dir, JOURNAL_FILE);
    const journal = readIfExists(journalFile);
    const lines = journal?.split('\n') ?? [];
    for (let i = 0; i < lines.length; i++) {
      if (lines[i] === '') continue;
      let line: JournalLine;
      try {
        line = JSON.parse(lines[i]) as JournalLine;
      } catch {
        if (i === lines.length - 1) continue; // no newline yet: cut short by a killed writer or a crash (the next locked run cuts it off)
        throw new Error(`the state journal ${journalFile} has a damaged line ${i + 1}; restore the stack's state directory from a backup`);
      }
      if (line.remove) records.delete(line.id);
      else records.set(line.id, { raw: line.put, location: `${journalFile}, line ${i + 1}` });
    }
    return records;
  }

  /**
   * Folds the journal into the records file, at the end of a run that held the lock. The records
   * are written as read, unknown fields and all; an unreadable file of an earlier version leaves
   * everything as it is (reading it reports it).
   */
  private async compact(stack: string): Promise<void> {
    const dir = this.stackDir(stack);
    const files = readdirSync(dir);
    removeAbandonedTemps(dir, files);
    const legacy = files.includes(RECORDS_FILE) ? [] : legacyFiles(dir, files);
    if (!files.includes(JOURNAL_FILE) && legacy.length === 0) return;
    const records: Record<string, unknown> = {};
    for (const [id, stored] of [...(await this.load(stack))].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (stored.text === undefined) records[id] = stored.raw;
      else {
        try {
          records[id] = JSON.parse(stored.text);
        } catch {
          return;
        }
      }
    }
    writeAtomically(path.join(dir, RECORDS_FILE), `${JSON.stringify(records, null, 2)}\n`);
    removeIfExists(path.join(dir, JOURNAL_FILE));
    for (const [, file] of legacy) removeIfExists(file);
  }
}

/**
 * Cuts off the journal's last line if its writer never finished it (no newline at the end). Its
 * write never returned, so nothing was done on the strength of it; left in place, the next line
 * appended would continue it and make it a damaged line in the middle of the journal.
 */
function cutUnfinishedLine(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, 'r+');
  } catch {
    return; // no journal
  }
  try {
    const size = fstatSync(fd).size;
    const chunk = Buffer.alloc(64 * 1024);
    for (let start = size; start > 0; ) {
      const length = Math.min(chunk.length, start);
      start -= length;
      readSync(fd, chunk, 0, length, start);
      const newline = chunk.lastIndexOf(0x0a, length - 1);
      if (newline >= 0) {
        if (start + newline + 1 < size) ftruncateSync(fd, start + newline + 1);
        return;
      }
    }
    if (size > 0) ftruncateSync(fd, 0);
  } finally {
    closeSync(fd);
  }
}

function validate(stack: string, id: string, stored: StoredRecord): ResourceRecord {
  const where = { stack, id, location: stored.location };
  return stored.text !== undefined ? parseRecordText(stored.text, where) : parseRecord(stored.raw, where);
}

function parseStateFile(text: string, file: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`the state file ${file} is not a JSON object of records (truncated?); restore it from a backup`);
  }
  return raw as Record<string, unknown>;
}

/** Record files of earlier versions among `files` of `dir`: `<logical id>.json`, by logical id. */
function legacyFiles(dir: string, files: readonly string[]): Array<[string, string]> {
  return files.filter((f) => f.endsWith('.json')).map((f) => [decode(f), path.join(dir, f)]);
}

/** The names in `dir`; none when it does not exist. */
function filesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}


/** Temporary files of writes interrupted by a kill (`<target>.<pid>.<random>.<n>.tmp`) whose writer is gone. */
function removeAbandonedTemps(dir: string, files: readonly string[]): void {
  for (const file of files) {
    const pid = tempWriter(file);
    if (pid !== undefined && !isAlive(pid)) removeIfExists(path.join(dir, file));
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

function isStale(lockFile: string): boolean {
  try {
    const { pid, host } = JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number; host: string };
    if (host !== os.hostname()) return false;
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // ESRCH: no such process. A half-written or vanished lock file is retried, not taken.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
