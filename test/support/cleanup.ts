/**
 * Removes the output folders cdktf's `Testing.app()` makes in the temp directory, once the test
 * file that made them is done: cdktf never removes them (hundreds per run of the suite, and a temp
 * directory that full slows every file created in it).
 */
import { Testing } from 'cdktf';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const made: string[] = [];
const app = Testing.app.bind(Testing);
Testing.app = (options = {}) => {
  if (options.outdir) return app(options);
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf.outdir.'));
  made.push(outdir);
  return app({ ...options, outdir });
};

afterAll(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});
