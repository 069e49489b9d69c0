// The exported schema, written by us from SQLite's description of the upload
// (lib/core/table-shape.ts), never copied from its CREATE text. Why:
// docs/design.md, "Exported schema".
import { ident } from './sql-text.ts';

/** The collations every SQLite has: the only ones an export names. */
export const BUILT_IN_COLLATIONS: ReadonlySet<string> = new Set(['BINARY', 'NOCASE', 'RTRIM']);

export interface KeyPart {
  column: string;
  /** Upper case, built in. */
  collation: string;
  desc: boolean;
}

export interface ColumnShape {
  name: string;
  /** As written to the export: the upload's declared type when plain, else its affinity's name. */
  type: string;
  notNull: boolean;
  /** A literal, as written to the export; undefined when the upload had none or an expression. */
  default: string | undefined;
  /** Built in, upper case. */
  collation: string;
  /** A PRIMARY KEY written on the column: the rowid alias, or the INTEGER PRIMARY KEY DESC that is not one. */
  primaryKey?: { desc: boolean; autoincrement: boolean };
}

export interface IndexShape {
  name: string;
  unique: boolean;
  keys: KeyPart[];
}

export interface ForeignKeyShape {
  parent: string;
  from: string[];
  /** Empty: the parent's primary key. */
  to: string[];
  onUpdate: string;
  onDelete: string;
}

export interface TableShape {
  name: string;
  strict: boolean;
  columns: ColumnShape[];
  /** A PRIMARY KEY written as a table constraint. */
  primaryKey: KeyPart[] | undefined;
  /** UNIQUE table constraints, in the upload's order (so their automatic indexes keep their names). */
  uniques: KeyPart[][];
  foreignKeys: ForeignKeyShape[];
  /** CREATE INDEX statements kept: plain columns, built-in collations, no WHERE. */
  indexes: IndexShape[];
}

/** Key columns, naming a collation only where it is not the column's own. */
function keyList(shape: TableShape, keys: KeyPart[]): string {
  const own = new Map(shape.columns.map((column) => [column.name.toLowerCase(), column.collation]));
  return keys.map((part) => `${ident(part.column)}${own.get(part.column.toLowerCase()) === part.collation ? '' : ` COLLATE ${part.collation}`}${part.desc ? ' DESC' : ''}`).join(', ');
}

function columnSql(column: ColumnShape, notNull: boolean): string {
  const primaryKey = column.primaryKey;
  return [
    ident(column.name),
    column.type,
    primaryKey && `PRIMARY KEY${primaryKey.desc ? ' DESC' : ''}${primaryKey.autoincrement ? ' AUTOINCREMENT' : ''}`,
    notNull && column.notNull && 'NOT NULL',
    column.default !== undefined && `DEFAULT ${column.default}`,
    column.collation !== 'BINARY' && `COLLATE ${column.collation}`,
  ].filter(Boolean).join(' ');
}

// NO ACTION is the default; SET NULL and the rest are SQLite's own words.
const ACTIONS = new Set(['SET NULL', 'SET DEFAULT', 'CASCADE', 'RESTRICT']);

function foreignKeySql(foreignKey: ForeignKeyShape): string {
  const to = foreignKey.to.length ? `(${foreignKey.to.map(ident).join(', ')})` : '';
  return `FOREIGN KEY(${foreignKey.from.map(ident).join(', ')}) REFERENCES ${ident(foreignKey.parent)}${to}`
    + (ACTIONS.has(foreignKey.onUpdate) ? ` ON UPDATE ${foreignKey.onUpdate}` : '')
    + (ACTIONS.has(foreignKey.onDelete) ? ` ON DELETE ${foreignKey.onDelete}` : '');
}

export interface TableTextOptions {
  /** SQL text: a temp table's, say. */
  name?: string;
  /** Inert in a restore (foreign_keys is off); a temp table has none. */
  foreignKeys?: boolean;
  notNull?: boolean;
}

/** One line, every name quoted, nothing evaluated on INSERT but NOT NULL and the keys. */
export function createTableSql(shape: TableShape, opts: TableTextOptions = {}): string {
  const { name = ident(shape.name), foreignKeys = true, notNull = true } = opts;
  const parts = [
    ...shape.columns.map((column) => columnSql(column, notNull)),
    ...(shape.primaryKey ? [`PRIMARY KEY(${keyList(shape, shape.primaryKey)})`] : []),
    ...shape.uniques.map((keys) => `UNIQUE(${keyList(shape, keys)})`),
    ...(foreignKeys ? shape.foreignKeys.map(foreignKeySql) : []),
  ];
  return `CREATE TABLE ${name}(${parts.join(', ')})${shape.strict ? ' STRICT' : ''}`;
}

/** An index of the table `shape`; `name` and `table` are SQL text (a temp table's, say). */
export function createIndexSql(shape: TableShape, index: IndexShape, name = ident(index.name), table = ident(shape.name)): string {
  return `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ${name} ON ${table}(${keyList(shape, index.keys)})`;
}

// Words and one parenthesised size, as agents declare them ("VARCHAR(255)",
// "DOUBLE PRECISION"). Anything else (a comment inside the type, quotes) is
// written as the name of its affinity. A type ending in "always" would be
// trimmed again by SQLite's parser ("GENERATED ALWAYS").
const PLAIN_TYPE = /^[A-Za-z_][A-Za-z0-9_]*(?: [A-Za-z_][A-Za-z0-9_]*)*(?: ?\( ?[-+]?\d+(?:\.\d+)? ?(?:, ?[-+]?\d+(?:\.\d+)? ?)?\))?$/;

export type Affinity = 'INTEGER' | 'TEXT' | 'BLOB' | 'REAL' | 'NUMERIC';

// INT, not INTEGER: an INTEGER PRIMARY KEY would become the rowid.
const AFFINITY_TYPE: Record<Affinity, string> = { INTEGER: 'INT', TEXT: 'TEXT', BLOB: 'BLOB', REAL: 'REAL', NUMERIC: 'NUMERIC' };

/** The declared type to write: the upload's when plain, else one with the same affinity (so values store alike). */
export function writableType(type: string): string {
  return type === '' || (PLAIN_TYPE.test(type) && !/always$/i.test(type)) ? type : AFFINITY_TYPE[affinity(type)];
}

/**
 * A declared type's affinity, by SQLite's own rule (sqlite3AffinityType):
 * the last four bytes seen, ASCII lower-cased, decide; INT wins at once.
 */
export function affinity(type: string): Affinity {
  if (type === '') return 'BLOB';
  let found: Affinity = 'NUMERIC';
  let last = '';
  for (const byte of new TextEncoder().encode(type)) {
    last = (last + String.fromCharCode(byte >= 65 && byte <= 90 ? byte + 32 : byte)).slice(-4);
    if (last === 'char' || last === 'clob' || last === 'text') found = 'TEXT';
    else if (last === 'blob' && (found === 'NUMERIC' || found === 'REAL')) found = 'BLOB';
    else if ((last === 'real' || last === 'floa' || last === 'doub') && found === 'NUMERIC') found = 'REAL';
    else if (last.endsWith('int')) return 'INTEGER';
  }
  return found;
}

// Literals SQLite applies without running anything of the upload's. A CR
// would be dropped by the sqlite3 shell at a line end; U+FFFD stands for
// bytes that were not UTF-8, which this text no longer holds.
const LITERAL = /^(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?0[xX][0-9a-fA-F]+|'(?:[^'\r\uFFFD]|'')*'|[xX]'(?:[0-9a-fA-F]{2})*'|NULL|TRUE|FALSE|CURRENT_TIME|CURRENT_DATE|CURRENT_TIMESTAMP)$/i;

/** A DEFAULT's text (pragma_table_xinfo's dflt_value) to write, when it is a literal, in as many parentheses. */
export function literalDefault(text: string): string | undefined {
  let inner = text.trim();
  let depth = 0;
  while (inner.startsWith('(') && inner.endsWith(')')) {
    inner = inner.slice(1, -1).trim();
    depth++;
  }
  return LITERAL.test(inner) ? `${'('.repeat(depth)}${inner}${')'.repeat(depth)}` : undefined;
}
