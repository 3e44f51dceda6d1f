/**
 * Column output like Go's tabwriter as the docker CLI configures it (min width 10, padding 3):
 * every column but the last is padded to its widest cell plus three spaces — even when the last
 * cell is empty, so a row can end in spaces, exactly as docker's does.
 */
export function renderTable(rows: string[][]): string {
  if (rows.length === 0) return '';
  const cols = Math.max(...rows.map((r) => r.length));
  const widths: number[] = [];
  for (let c = 0; c < cols - 1; c++) widths[c] = Math.max(10, ...rows.map((r) => (r[c] ?? '').length + 3));
  return rows.map((r) => r.map((cell, c) => (c < cols - 1 ? cell.padEnd(widths[c]!) : cell)).join('') + '\n').join('');
}
