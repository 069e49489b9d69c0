// Schema text variants of the fixture indexes, for the schema fuzz
// (test/robustness/schema-fuzz.test.ts). The fixture's own CREATE texts are decorated
// token by token (comments holding `;`, quotes and a `.shell` line, odd
// whitespace, four quoting styles), given extra columns (odd names and types,
// literal and expression DEFAULTs, CHECKs, generated columns, collations),
// extra indexes (plain, on an expression, partial), agents' tables (WITHOUT
// ROWID, STRICT) and a virtual table. Every expression is the benign MARK
// while the rows go in, then rewritten (writable_schema) to one that raises
// whenever it is evaluated; trailing comments and CREATE/**/VIRTUAL are added
// the same way. The build also says what the export must leave out.
import fc from 'fast-check';
import { loadSqlJs } from '../../../lib/core/sqlite.ts';
import { ident, sqlText } from '../../../lib/core/sql-text.ts';
import type { LayoutShortName } from '../../../lib/core/layout.ts';
import type { FixtureIds } from '../fixtures.ts';
import { below, prng, type Rand } from './random.ts';
import { RAISE, SENTINEL } from './schema-cases.ts';

/** Benign while the rows go in; RAISE in the upload. */
const MARK = '1 + 0';

interface TypeChoice {
  text: string;
  /** What the export declares instead, when the upload's type is not plain text. */
  written?: string;
}

const PLAIN_TYPES = ['', 'TEXT', 'INTEGER', 'INT', 'REAL', 'BLOB', 'NUMERIC', 'VARCHAR(10)', 'DECIMAL(10, 2)', 'UNSIGNED BIG INT', 'DOUBLE PRECISION', 'BOOLEAN', 'DATETIME'];
const ODD_TYPES: TypeChoice[] = [
  { text: 'INT /* ; */ EGER', written: 'INT' },
  { text: 'CHAR -- x\n VARYING(3)', written: 'TEXT' },
  { text: 'DOUBLE /* , */ PRECISION', written: 'REAL' },
  { text: 'BIG /* ) */ BLOB', written: 'BLOB' },
  // SQLite keeps just "VARCHAR": plain once read.
  { text: '"VARCHAR" (10)' },
];
const LITERALS = ['0', '-1', '1.5', "''", "'it''s'", "'a\nb'", "X'00ff'", 'NULL', 'TRUE', "('x')", 'CURRENT_TIMESTAMP', '-0x10'];
const ODD_NAMES = [`it's "q" ;--`, `a\n.shell touch ${SENTINEL}\nb`, 'tab\tx', `ctl${String.fromCharCode(1, 27, 127)}`, '日本語', 'order', 'select',
  'rowid', 'oid', '/* c */', '-- c', '[x]', '`x`', 'a b', '😀', 'x;y', 'é', 'plain'];

export interface ExtraColumn {
  name: string;
  type: TypeChoice;
  notNull: boolean;
  /** A literal's text, MARK for an expression, or none. */
  dflt: string | undefined;
  generated: 'VIRTUAL' | 'STORED' | undefined;
  collation: '' | 'NOCASE' | 'RTRIM';
  check: boolean;
}

export interface AgentTable {
  name: string;
  kind: 'rowid' | 'without rowid' | 'strict';
  columns: ExtraColumn[];
}

export interface ExtraIndex {
  name: string;
  /** Picks the table (among the fixture's) and the column. */
  at: number;
  kind: 'plain' | 'expression' | 'partial';
  desc: boolean;
  collation: '' | 'NOCASE' | 'RTRIM';
}

export interface Variant {
  layout: LayoutShortName;
  snapshot: keyof FixtureIds;
  extras: { at: number; column: ExtraColumn }[];
  agents: AgentTable[];
  indexes: ExtraIndex[];
  virtual: 'none' | 'plain' | 'disguised';
  trailingComments: boolean;
  /** Where a name holding a carriage return goes, if anywhere: the export must refuse it. */
  unsafe: 'column' | 'table' | 'index' | undefined;
  /** Seeds the whitespace, comments and quoting. */
  noise: number;
}

const name = fc.oneof(fc.constantFrom(...ODD_NAMES), fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/));
const collation = fc.constantFrom<ExtraColumn['collation']>('', '', 'NOCASE', 'RTRIM');

/** An extra column; `strict`: a STRICT table's (ANY, no DEFAULT). */
const extraColumn = (strict: boolean) => fc.record({
  name,
  type: strict ? fc.constant({ text: 'ANY' }) : fc.oneof(fc.constantFrom(...PLAIN_TYPES).map((text): TypeChoice => ({ text })), fc.constantFrom(...ODD_TYPES)),
  kind: fc.constantFrom('plain', 'literal', 'expression', 'generated'),
  literal: fc.constantFrom(...LITERALS),
  generated: fc.constantFrom<'VIRTUAL' | 'STORED'>('VIRTUAL', 'STORED'),
  notNull: fc.boolean(),
  collation,
  check: fc.boolean(),
}).map(({ kind, literal, generated, notNull, ...c }): ExtraColumn => ({
  ...c,
  generated: kind === 'generated' ? generated : undefined,
  dflt: strict ? undefined : kind === 'literal' ? literal : kind === 'expression' ? MARK : undefined,
  // The rows go in without the column: NOT NULL needs a value.
  notNull: notNull && (kind === 'generated' || (kind === 'literal' && literal !== 'NULL' && !strict)),
}));

export const variantArbitrary: fc.Arbitrary<Variant> = fc.record({
  layout: fc.constantFrom<LayoutShortName>('v1', 'v2'),
  snapshot: fc.constantFrom<keyof FixtureIds>('full', 'incremental', 'dedupOnly', 'awkward', 'empty'),
  extras: fc.array(fc.record({ at: fc.nat(), column: extraColumn(false) }), { maxLength: 8 }),
  agents: fc.array(fc.record({
    name,
    kind: fc.constantFrom<AgentTable['kind']>('rowid', 'rowid', 'without rowid', 'strict'),
    columns: fc.array(extraColumn(false), { maxLength: 3 }),
  }).map((t) => (t.kind === 'strict' ? { ...t, columns: t.columns.map((c) => ({ ...c, type: { text: 'ANY' }, dflt: undefined, notNull: false, generated: undefined })) } : t)), { maxLength: 2 }),
  indexes: fc.array(fc.record({ name, at: fc.nat(), kind: fc.constantFrom<ExtraIndex['kind']>('plain', 'plain', 'expression', 'partial'), desc: fc.boolean(), collation }), { maxLength: 3 }),
  virtual: fc.constantFrom<Variant['virtual']>('none', 'none', 'plain', 'disguised'),
  trailingComments: fc.boolean(),
  unsafe: fc.oneof({ arbitrary: fc.constant(undefined), weight: 12 }, { arbitrary: fc.constantFrom<'column' | 'table' | 'index'>('column', 'table', 'index'), weight: 1 }),
  noise: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});

// ---- text ----

const SPACES = [' ', ' ', ' ', ' ', '\t', '\n', '\r\n', '\f', ' /* ; \' " -- */ ', ' -- ; \' "\n', `/*\n.shell touch ${SENTINEL}\n*/`, '/**/'];
const space = (rand: Rand) => SPACES[below(rand, SPACES.length)];

/** A name, quoted one of the ways SQLite reads (bare only when `bare` and plain). */
function quoted(rand: Rand, text: string, bare = false): string {
  const styles = [ident(text)];
  if (!text.includes(']')) styles.push(`[${text}]`);
  styles.push(`\`${text.replaceAll('`', '``')}\``);
  if (bare && /^[A-Za-z_][A-Za-z0-9_]*$/.test(text)) styles.push(text);
  return styles[below(rand, styles.length)];
}

const TOKEN = /\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/|'(?:[^']|'')*'|"(?:[^"]|"")*"|\[[^\]]*\]|`(?:[^`]|``)*`|[A-Za-z_][A-Za-z0-9_]*|[\s\S]/g;

/** The fixture's CREATE text, every space a random one and every known name requoted. */
function decorate(rand: Rand, sql: string, names: Set<string>): string[] {
  return [...sql.matchAll(TOKEN)].map(([t]) => {
    if (/^\s|^--|^\/\*/.test(t)) return space(rand);
    if (names.has(t.toLowerCase())) return quoted(rand, t, true);
    return t;
  });
}

function columnSql(rand: Rand, c: ExtraColumn): string {
  const parts = [quoted(rand, c.name), c.type.text];
  if (c.generated) parts.push(`GENERATED ALWAYS AS (${MARK}) ${c.generated}`);
  if (c.notNull) parts.push('NOT NULL');
  if (c.dflt !== undefined) parts.push(`DEFAULT ${c.dflt === MARK ? `(${MARK})` : c.dflt}`);
  if (c.collation) parts.push(`COLLATE ${c.collation}`);
  if (c.check) parts.push(`CHECK (${MARK})`);
  return parts.filter(Boolean).join(space(rand));
}

const CONSTRAINT = /^(PRIMARY|UNIQUE|CHECK|FOREIGN|CONSTRAINT)$/i;

/** `tokens` of a CREATE TABLE with `columns` inserted after its last column and `checks` before its end. */
function withExtras(rand: Rand, tokens: string[], columns: ExtraColumn[], check: boolean): string {
  const open = tokens.indexOf('(');
  let depth = 0;
  let lastColumnEnd = -1;
  let itemStart = open + 1;
  let close = tokens.length - 1;
  for (let i = open; i < tokens.length; i++) {
    if (tokens[i] === '(') depth++;
    else if (tokens[i] === ')' && --depth === 0) close = i;
    if ((tokens[i] === ',' && depth === 1) || i === close) {
      const first = tokens.slice(itemStart, i).find((t) => !/^\s|^--|^\/\*/.test(t)) ?? '';
      if (!CONSTRAINT.test(first)) lastColumnEnd = i;
      itemStart = i + 1;
      if (i === close) break;
    }
  }
  const added = columns.map((c) => `,${space(rand)}${columnSql(rand, c)}`).join('');
  const out = [...tokens];
  if (check) out.splice(close, 0, `,${space(rand)}CHECK (${MARK})`);
  out.splice(lastColumnEnd, 0, added);
  return out.join('');
}

// ---- building ----

export interface BuiltVariant {
  /** The upload: every MARK made to raise, comments trailing, the virtual table disguised. */
  hostile: Uint8Array;
  /** The same rows and structure, every MARK benign: what the reference prunes. */
  benign: Uint8Array;
  /** Run on the reference before pruning: drops what the export skips or leaves out whole. */
  referenceSql: string;
  /** "table\0column" → the declared type the export writes instead of the upload's. */
  types: Map<string, string>;
  /** "table\0column" of each expression DEFAULT: the export writes none. */
  expressionDefaults: Set<string>;
  /** A name the export cannot write is in an exported table: UNSAFE_SCHEMA expected. */
  refused: boolean;
}

interface FixtureTable {
  name: string;
  sql: string;
  columns: string[];
  /** Rows as INSERT statements. */
  rows: string[];
}

const LAYOUT_TABLES = new Set(['files', 'chunks', 'file_chunks', 'chunk_files', 'blobs', 'blob_chunks', 'snapshots', 'snapshot_files', 'snapshot_blobs', 'uploads', 'snapshot_tags']);

/** The fixture's tables (not sqlite_*), their CREATE texts, columns and rows; and its CREATE INDEX texts. */
export function readFixture(bytes: Uint8Array, SQL: Awaited<ReturnType<typeof loadSqlJs>>): { tables: FixtureTable[]; indexes: string[] } {
  const db = new SQL.Database(bytes);
  try {
    const q = (sql: string) => db.exec(sql)[0]?.values ?? [];
    const tables = q("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid").map(([n, sql]) => {
      const columns = q(`SELECT name FROM pragma_table_info(${sqlText(String(n))})`).map(([c]) => String(c));
      const values = columns.map((c) => `quote(${ident(c)})`).join(` || ', ' || `);
      const cols = columns.map(ident).join(', ');
      const rows = q(`SELECT rowid, ${values} FROM ${ident(String(n))} ORDER BY rowid`).map(([r, v]) => `INSERT INTO ${ident(String(n))} (_rowid_, ${cols}) VALUES (${r}, ${v});`);
      return { name: String(n), sql: String(sql), columns, rows };
    });
    const indexes = q("SELECT sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY rowid").map(([sql]) => String(sql));
    return { tables, indexes };
  } finally {
    db.close();
  }
}

const key = (table: string, column: string) => `${table}\0${column}`;
const unique = (taken: Set<string>, wanted: string) => {
  let n = wanted;
  for (let i = 2; taken.has(n.toLowerCase()); i++) n = `${wanted}_${i}`;
  taken.add(n.toLowerCase());
  return n;
};

/** Values of every storage class for an extra column, by rowid (_rowid_: an extra column may be named rowid). */
const fillSql = (table: string, c: ExtraColumn) => `UPDATE ${ident(table)} SET ${ident(c.name)} = CASE _rowid_ % 5 WHEN 0 THEN '12' WHEN 1 THEN 12 WHEN 2 THEN 1.5
  WHEN 3 THEN X'01' ELSE ${c.notNull ? "'x'" : 'NULL'} END;`;

/** Builds the variant from the fixture's tables and rows (readFixture), in sql.js. */
export async function buildVariant(v: Variant, fixture: ReturnType<typeof readFixture>): Promise<BuiltVariant> {
  const SQL = await loadSqlJs();
  const rand = prng(v.noise);
  const db = new SQL.Database();
  try {
    const plan = planVariant(v, fixture, rand);
    db.exec(plan.tables.join(';\n'));
    db.exec(`BEGIN;\n${fixture.tables.flatMap((t) => t.rows).join('\n')}\n${plan.rows.join('\n')}\nCOMMIT;`);
    db.exec(plan.indexes.join(';\n'));
    const benign = db.export();
    db.exec(hostileRewrites(v, plan.virtualName));
    return { hostile: db.export(), benign, referenceSql: plan.referenceSql.join('\n'), types: plan.types, expressionDefaults: plan.expressionDefaults, refused: plan.refused };
  } finally {
    db.close();
  }
}

/** Every MARK made to raise; the trailing comments; the virtual table disguised. */
function hostileRewrites(v: Variant, virtualName: string): string {
  return `PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, ${sqlText(MARK)}, ${sqlText(RAISE)}) WHERE instr(sql, ${sqlText(MARK)}) > 0;
${v.trailingComments ? "UPDATE sqlite_schema SET sql = sql || ' -- agent note' WHERE sql IS NOT NULL;" : ''}
${v.virtual === 'disguised' ? `UPDATE sqlite_schema SET sql = replace(sql, 'CREATE VIRTUAL TABLE', 'CREATE/**/VIRTUAL TABLE') WHERE name = ${sqlText(virtualName)};` : ''}
PRAGMA writable_schema = OFF;`;
}

interface Plan {
  tables: string[];
  rows: string[];
  indexes: string[];
  referenceSql: string[];
  types: Map<string, string>;
  expressionDefaults: Set<string>;
  refused: boolean;
  virtualName: string;
}

/** The statements of a variant, and what the export must do with them. */
function planVariant(v: Variant, fixture: ReturnType<typeof readFixture>, rand: Rand): Plan {
  const plan: Plan = { tables: [], rows: [], indexes: [], referenceSql: [], types: new Map(), expressionDefaults: new Set(), refused: false, virtualName: '' };
  const known = new Set([...fixture.tables.map((t) => t.name.toLowerCase()), ...fixture.tables.flatMap((t) => t.columns.map((c) => c.toLowerCase())),
    ...fixture.indexes.map((sql) => /^CREATE (?:UNIQUE )?INDEX (\w+)/.exec(sql)![1].toLowerCase())]);
  const objects = new Set(known);
  const stored = new Map(fixture.tables.map((t) => [t.name, [...t.columns]]));
  const extras = placeExtras(v, fixture, rand, plan);
  for (const t of fixture.tables) {
    plan.tables.push(withExtras(rand, decorate(rand, t.sql, known), extras.get(t.name) ?? [], rand() < 0.3));
    for (const c of extras.get(t.name) ?? []) {
      if (!c.generated) {
        stored.get(t.name)!.push(c.name);
        plan.rows.push(fillSql(t.name, c));
      }
    }
  }
  for (const a of v.agents) planAgent(rand, plan, { ...a, name: unique(objects, a.name) });
  if (v.unsafe === 'table') planAgent(rand, plan, { name: unique(objects, 'snapshot\rcr'), kind: 'rowid', columns: [] });
  if (v.virtual !== 'none') {
    plan.virtualName = unique(objects, 'snapshot_search');
    plan.tables.push(`CREATE VIRTUAL TABLE ${ident(plan.virtualName)} USING fts4(path, snapshot_id)`);
    plan.rows.push(`INSERT INTO ${ident(plan.virtualName)} SELECT 'p', id FROM snapshots;`);
    plan.referenceSql.push(`DROP TABLE ${ident(plan.virtualName)};`);
  }
  plan.indexes.push(...fixture.indexes.map((sql) => decorate(rand, sql, known).join('')));
  for (const index of v.indexes) planIndex(rand, plan, { ...index, name: unique(objects, index.name) }, fixture, stored);
  if (v.unsafe === 'index') {
    planIndex(rand, plan, { name: unique(objects, 'idx\rcr'), at: below(rand, 1000), kind: 'plain', desc: false, collation: '' }, fixture, stored, true);
  }
  return plan;
}

/** The extra columns of each fixture table, with unique names and what the export writes of them. */
function placeExtras(v: Variant, fixture: ReturnType<typeof readFixture>, rand: Rand, plan: Plan): Map<string, ExtraColumn[]> {
  const placed = new Map<string, ExtraColumn[]>();
  const taken = new Map(fixture.tables.map((t) => [t.name, new Set(t.columns.map((c) => c.toLowerCase()))]));
  const layoutTables = fixture.tables.filter((t) => LAYOUT_TABLES.has(t.name));
  const all = [...v.extras];
  if (v.unsafe === 'column') {
    all.push({ at: fixture.tables.indexOf(layoutTables[below(rand, layoutTables.length)]), column: { name: 'cr\rx', type: { text: 'TEXT' }, notNull: false, dflt: undefined, generated: undefined, collation: '', check: false } });
    plan.refused = true;
  }
  for (const { at, column } of all) {
    const table = fixture.tables[at % fixture.tables.length];
    let c = { ...column, name: unique(taken.get(table.name)!, column.name) };
    // Rows snapshot_blobs gains get literal DEFAULTs only, and no clock.
    if (table.name === 'snapshot_blobs' && (c.dflt === MARK || c.dflt === 'CURRENT_TIMESTAMP')) c = { ...c, dflt: undefined, notNull: c.notNull && !!c.generated };
    if (c.type.written && !c.generated) plan.types.set(key(table.name, c.name), c.type.written);
    if (c.dflt === MARK && !c.generated) plan.expressionDefaults.add(key(table.name, c.name));
    placed.set(table.name, [...(placed.get(table.name) ?? []), c]);
  }
  return placed;
}

function planAgent(rand: Rand, plan: Plan, a: AgentTable): void {
  const taken = new Set(['snapshot_id', 'k']);
  const columns = a.columns.map((c) => ({ ...c, name: unique(taken, c.name) }));
  const wr = a.kind === 'without rowid';
  const defs = [`${quoted(rand, 'snapshot_id', true)} TEXT`, ...(wr ? ['"k" TEXT'] : []), ...columns.map((c) => columnSql(rand, c)),
    ...(wr ? ['PRIMARY KEY ("snapshot_id", "k")'] : [])];
  plan.tables.push(`CREATE TABLE ${quoted(rand, a.name)}${space(rand)}(${defs.join(`,${space(rand)}`)})${wr ? ' WITHOUT ROWID' : a.kind === 'strict' ? ' STRICT' : ''}`);
  plan.rows.push(`INSERT INTO ${ident(a.name)} ("snapshot_id"${wr ? ', "k"' : ''}) SELECT id${wr ? ", 'k'" : ''} FROM snapshots;`);
  if (wr) {
    plan.referenceSql.push(`DROP TABLE ${ident(a.name)};`);
    return;
  }
  plan.rows.push(`INSERT INTO ${ident(a.name)} ("snapshot_id") VALUES (NULL);`, ...columns.filter((c) => !c.generated).map((c) => fillSql(a.name, c)));
  if (a.name.includes('\r')) plan.refused = true;
  for (const c of columns) {
    if (c.type.written && !c.generated) plan.types.set(key(a.name, c.name), c.type.written);
    if (c.dflt === MARK && !c.generated) plan.expressionDefaults.add(key(a.name, c.name));
  }
}

/** An extra index on a fixture table's stored column; `layoutOnly`: on a table the export keeps. */
function planIndex(rand: Rand, plan: Plan, index: ExtraIndex, fixture: ReturnType<typeof readFixture>, stored: Map<string, string[]>, layoutOnly = false): void {
  const tables = layoutOnly ? fixture.tables.filter((t) => LAYOUT_TABLES.has(t.name)) : fixture.tables;
  const table = tables[index.at % tables.length].name;
  const columns = stored.get(table)!;
  const column = quoted(rand, columns[below(rand, columns.length)]);
  const on = `${quoted(rand, index.name)}${space(rand)}ON ${quoted(rand, table)}`;
  if (index.kind === 'plain') {
    plan.indexes.push(`CREATE INDEX ${on} (${column}${index.collation ? ` COLLATE ${index.collation}` : ''}${index.desc ? ' DESC' : ''})`);
    if (layoutOnly) plan.refused = true;
    return;
  }
  plan.indexes.push(index.kind === 'expression' ? `CREATE INDEX ${on} ((${MARK}) * length(${column}))` : `CREATE INDEX ${on} (${column}) WHERE ${MARK}`);
  plan.referenceSql.push(`DROP INDEX ${ident(index.name)};`);
}
