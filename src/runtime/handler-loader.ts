/**
 * The handler's entry file (`node pgstacks-handler.js <command>`): it runs the bundle beside it
 * (bundle.ts) with V8's code cache. Compiling the 1.9 MB bundle, and then each function it calls,
 * is ~30 ms of the ~250 ms of CPU an engine run takes, on a runner Terraform keeps busy; Node 20
 * has no compile cache of its own (`module.enableCompileCache` is Node 22).
 *
 * The cache lives in the user's cache directory (`$XDG_CACHE_HOME/pgstacks`, else
 * `~/.cache/pgstacks`), one file per bundle, Node version and architecture, written by the first
 * run that finds none (or one V8 rejects: other flags, a damaged file). It is never in a shared
 * directory, where another user could plant one. Any failure to read or write it only costs the
 * compile time.
 *
 * First it starts the slow hash the run will need (early-secrets.ts) on libuv's threads, so it
 * runs while the bundle is compiled and loaded rather than after.
 *
 * This file is bundled on its own (with early-secrets.ts) and must need nothing but Node's
 * built-in modules.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { createRequire, wrap } from 'node:module';
import { startDerivingSecrets } from './early-secrets';

/** The bundle's content hash, set when the loader is built beside it (bundle.ts). */
declare const PGSTACKS_BUNDLE_HASH: string;
/** The bundle's file name beside the loader (bundle.ts). */
declare const PGSTACKS_BUNDLE_FILE: string;

/** Caches of older bundles beyond this many (newest first) are removed when a new one is written. */
const KEPT_CACHES = 8;
const CACHE_PREFIX = 'handler-';
const CACHE_SUFFIX = '.v8cache';

function cacheDirectory(): string | undefined {
  const base = process.env.XDG_CACHE_HOME || (os.homedir() && path.join(os.homedir(), '.cache'));
  return base ? path.join(base, 'pgstacks') : undefined;
}

function readCache(file: string | undefined): Buffer | undefined {
  try {
    return file ? fs.readFileSync(file) : undefined;
  } catch {
    return undefined;
  }
}

/** Writes the cache atomically (a reader sees the old file or the new one), then prunes old bundles' caches. */
function writeCache(dir: string, file: string, data: Buffer): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const temp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, data, { mode: 0o600 });
    fs.renameSync(temp, file);
    const caches = fs
      .readdirSync(dir)
      .filter((name) => name.startsWith(CACHE_PREFIX) && name.endsWith(CACHE_SUFFIX))
      .map((name) => ({ name, mtime: fs.statSync(path.join(dir, name)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime);
    for (const { name } of caches.slice(KEPT_CACHES)) fs.rmSync(path.join(dir, name), { force: true });
  } catch {
    // A read-only or full home directory: the next run compiles again.
  }
}

startDerivingSecrets(process.env);
const bundle = path.join(__dirname, PGSTACKS_BUNDLE_FILE);
const dir = cacheDirectory();
const cacheFile = dir && path.join(dir, `${CACHE_PREFIX}${PGSTACKS_BUNDLE_HASH}-${process.version}-${process.arch}${CACHE_SUFFIX}`);
const cachedData = readCache(cacheFile);
const script = new vm.Script(wrap(fs.readFileSync(bundle, 'utf8')), { filename: bundle, cachedData });
if (dir && cacheFile && (!cachedData || script.cachedDataRejected)) {
  // At exit the cache also holds the functions this run compiled, not just the top level.
  process.once('exit', () => writeCache(dir, cacheFile, script.createCachedData()));
}
const bundleModule = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void).call(bundleModule.exports, bundleModule.exports, createRequire(bundle), bundleModule, bundle, path.dirname(bundle));
