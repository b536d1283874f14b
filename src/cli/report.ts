/** Writes exactly one JSON object (and a newline) to stdout: the machine-readable contract of --json. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** A plain aligned text table; numbers right-aligned. */
export function formatTable(headers: string[], rows: string[][], options: { header?: boolean } = {}): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const numeric = headers.map((_, c) => rows.every((r) => /^-?[\d.,e+%-]*$/.test(r[c] ?? '')));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (numeric[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  const out: string[] = [];
  if (options.header !== false) {
    out.push(line(headers));
    out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  for (const row of rows) out.push(line(row));
  return `${out.join('\n')}\n`;
}
