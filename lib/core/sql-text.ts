// Quoting for the SQL text we generate: the one place names and strings are
// spelled into a statement, whether sql.js or the sqlite3 shell reads it.

/** An identifier, double-quoted: any name, even one holding quotes, stays one name. */
export const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * A string literal. A carriage return is spelled char(13) outside the quotes:
 * the sqlite3 shell drops the CR of every CRLF it reads, inside literals too.
 */
export function sqlText(text: string): string {
  const quoted = `'${text.replaceAll("'", "''").replaceAll('\r', "' || char(13) || '")}'`;
  return text.includes('\r') ? `(${quoted})` : quoted;
}
