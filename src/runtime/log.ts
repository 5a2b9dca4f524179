/**
 * Progress lines for Terraform's log. Every line and error message passes through `clean`, which
 * masks each secret value the handler has seen.
 */
export class Logger {
  private readonly secrets = new Set<string>();
  /** Longest first, so a secret that contains another is masked whole. */
  private masks: string[] = [];

  constructor(private readonly write: (line: string) => void = stdoutLines()) {}

  /** Masks `value` in everything printed from now on. */
  redact(value: string | undefined): void {
    if (!value || this.secrets.has(value)) return;
    this.secrets.add(value);
    this.masks = [...this.secrets].sort((a, b) => b.length - a.length);
  }

  clean(text: string): string {
    let out = text;
    // Most lines hold no secret: looking is cheaper than splitting.
    for (const secret of this.masks) if (out.includes(secret)) out = out.split(secret).join('***');
    return out;
  }

  line(message: string): void {
    this.write(this.clean(`pgstacks: ${message}`));
  }
}

/** `1.2s` / `350ms`. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

/**
 * Lines to stdout, gathered per turn of the event loop: one write to Terraform's pipe for the
 * lines of many resources finishing together, rather than one each. Flushed on exit too.
 */
function stdoutLines(): (line: string) => void {
  let pending = '';
  const flush = () => {
    const text = pending;
    pending = '';
    if (text) process.stdout.write(text);
  };
  process.once('exit', flush);
  return (line) => {
    if (!pending) setImmediate(flush);
    pending += `${line}\n`;
  };
}
