/**
 * Progress lines for Terraform's log. Every line and error message passes through `clean`, which
 * masks each secret value the handler has seen.
 */
export class Logger {
  private readonly secrets = new Set<string>();

  constructor(private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {}

  /** Masks `value` in everything printed from now on. */
  redact(value: string | undefined): void {
    if (value) this.secrets.add(value);
  }

  clean(text: string): string {
    let out = text;
    // Longest first, so a secret that contains another is masked whole.
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join('***');
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
