/**
 * Small local files the engine writes whole (the state store's, the run marker): written with
 * Node's synchronous calls, as they are small and local, and Node's fs/promises costs every engine
 * run ~3 ms to load.
 */
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/** Unique to this process (a pid alone may be reused); a counter, not random bytes per write (~70 µs each), tells its temporary files apart. */
const TEMP_TAG = `${process.pid}.${randomBytes(4).toString('hex')}`;
let temps = 0;

/** A temporary file of this process's writes: `<target>.<pid>.<random>.<n>.tmp` (tempWriter reads the pid back). */
const tempFile = (target: string) => `${target}.${TEMP_TAG}.${++temps}.tmp`;

/** The pid of the process whose write left the temporary file `name`; undefined when `name` is not one. */
export function tempWriter(name: string): number | undefined {
  const pid = /\.(\d+)\.[0-9a-f]{8}(?:\.\d+)?\.tmp$/.exec(name)?.[1];
  return pid === undefined ? undefined : Number(pid);
}

/** Writes a file whole (a temporary file renamed over it): a reader sees the old text or the new. */
export function writeAtomically(target: string, text: string, options: { readonly makeDirectory?: boolean } = {}): void {
  if (options.makeDirectory) mkdirSync(path.dirname(target), { recursive: true, mode: DIR_MODE });
  const temp = tempFile(target);
  writeFileSync(temp, text, { flag: 'wx', mode: FILE_MODE });
  renameSync(temp, target);
}

/** The file's text; undefined when it does not exist. */
export function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Removes a file; one that does not exist is fine. */
export function removeIfExists(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
