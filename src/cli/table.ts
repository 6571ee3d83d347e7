// Aligned text tables for `list` and `status` output (and JSON for --json).

export interface Column {
  header: string;
  /** Right-align (numbers). */
  right?: boolean;
}

export function renderTable(columns: Column[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]): string =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        const w = widths[i] ?? 0;
        return c.right === true ? cell.padStart(w) : i === columns.length - 1 ? cell : cell.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  return [fmt(columns.map((c) => c.header)), ...rows.map(fmt)].join('\n') + '\n';
}

export function printTable(columns: Column[], rows: string[][]): void {
  process.stdout.write(renderTable(columns, rows));
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
