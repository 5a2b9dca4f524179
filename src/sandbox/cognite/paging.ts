/** CDF-style paging: opaque cursors (the sort key of the last item returned) and `nextCursor`. */

/** The cursor that continues after `lastKey`. */
export function encodeCursor(lastKey: string): string {
  return Buffer.from(JSON.stringify({ after: lastKey }), 'utf8').toString('base64url');
}

/** The key a cursor continues after; `undefined` for a cursor the sandbox did not make. */
export function decodeCursor(cursor: string): string | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { after?: unknown };
    return typeof parsed.after === 'string' ? parsed.after : undefined;
  } catch {
    return undefined;
  }
}

/** One page of `items` (already sorted by `key`) after the cursor. */
export function page<T>(items: readonly T[], key: (item: T) => string, limit: number, after: string | undefined): { items: T[]; nextCursor?: string } {
  const rest = after === undefined ? items : items.filter((item) => key(item) > after);
  return pageOf(rest, key, limit);
}

/** The first `limit` of `rows` (fetched with one extra to tell whether more follow). */
export function pageOf<T>(rows: readonly T[], key: (item: T) => string, limit: number): { items: T[]; nextCursor?: string } {
  const items = rows.slice(0, limit);
  return rows.length > limit ? { items, nextCursor: encodeCursor(key(items[items.length - 1]!)) } : { items };
}
