/**
 * Validation of `manifest.json` and `catalog.json`: the schemas of `schema.ts` through ajv's validators,
 * precompiled into `validators.generated.ts` (no code compiled at run time, so a strict Content Security
 * Policy holds in the page and the worker), then the cross-field rules a schema cannot say (sizes that must agree, variants that must be unique). Every
 * problem is reported by its JSON path, in words.
 */
import type { AnySchemaObject, ErrorObject } from 'ajv';
import { ManifestError } from './errors.ts';
import type {
  BundleCatalog,
  BundleLearning,
  BundleManifest,
  ItemDtype,
  LearningSetting,
  ModelEntry,
} from './manifest.ts';
import { CATALOG_FIELDS, CATALOG_SCHEMA, MANIFEST_SCHEMA } from './schema.ts';
import * as validators from './validators.generated.ts';

export { ManifestError };

/** Bytes per value of each item-table dtype. */
export const ITEM_DTYPE_BYTES: Readonly<Record<ItemDtype, number>> = { f32: 4, f16: 2, i8: 1 };

export function validateManifest(value: unknown, file = 'manifest.json'): BundleManifest {
  const validate = validators.manifest;
  if (!validate(value)) throw new ManifestError(file, describeErrors(validate.errors ?? [], MANIFEST_SCHEMA));
  const problems = manifestConsistency(value);
  if (problems.length > 0) throw new ManifestError(file, problems);
  return value;
}

/** Parses and validates the text of `manifest.json`. */
export function parseManifest(text: string, file = 'manifest.json'): BundleManifest {
  return validateManifest(parseJson(text, file), file);
}

/** Validates `catalog.json` for a bundle of `count` items. */
export function validateCatalog(value: unknown, count: number, file = 'catalog.json'): BundleCatalog {
  const validate = validators.catalog;
  if (!validate(value)) throw new ManifestError(file, describeErrors(validate.errors ?? [], CATALOG_SCHEMA));
  const problems = catalogConsistency(value, count);
  if (problems.length > 0) throw new ManifestError(file, problems);
  return value;
}

export function parseCatalog(text: string, count: number, file = 'catalog.json'): BundleCatalog {
  return validateCatalog(parseJson(text, file), count, file);
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ManifestError(file, [`not valid JSON (${(error as Error).message})`]);
  }
}

function manifestConsistency(manifest: BundleManifest): string[] {
  const problems: string[] = [];
  const seenDtypes = new Map<ItemDtype, number>();
  manifest.items.forEach((table, i) => {
    const at = `items[${i}]`;
    const first = seenDtypes.get(table.dtype);
    if (first !== undefined)
      problems.push(`${at}.dtype: a second "${table.dtype}" table (also items[${first}])`);
    else seenDtypes.set(table.dtype, i);
    if (table.dim !== manifest.dim)
      problems.push(`${at}.dim: must equal the manifest's dim ${manifest.dim} (got ${table.dim})`);
    if (table.count !== manifest.catalog.count)
      problems.push(`${at}.count: must equal catalog.count ${manifest.catalog.count} (got ${table.count})`);
    const bytes = table.count * table.dim * ITEM_DTYPE_BYTES[table.dtype];
    if (table.bytes !== bytes)
      problems.push(
        `${at}.bytes: must be count × dim × ${ITEM_DTYPE_BYTES[table.dtype]} = ${bytes} for ${table.dtype} (got ${table.bytes})`,
      );
    if (table.columnScales && table.columnScales.length !== table.dim)
      problems.push(
        `${at}.columnScales: must hold dim = ${table.dim} numbers (got ${table.columnScales.length})`,
      );
    if (table.scales && table.scales.bytes !== table.count * 4)
      problems.push(
        `${at}.scales.bytes: must be count × 4 = ${table.count * 4}, one float32 a row (got ${table.scales.bytes})`,
      );
  });
  problems.push(
    ...uniqueVariants('rankers', manifest.rankers),
    ...uniqueVariants('encoders', manifest.encoders),
  );
  if (manifest.learning) problems.push(...learningProblems(manifest.learning));
  return problems;
}

/**
 * The `learning` block (the schema only closes it): a grid of well-formed settings, `chosen` one of them.
 * Option names are not checked here (an unknown one is ignored by the learner), and a malformed grid gets
 * one sentence: every byte here is in the worker's start-up JS, which has a budget.
 */
function learningProblems(learning: BundleLearning): string[] {
  const rows: LearningSetting[] = Array.isArray(learning.grid) ? learning.grid : [];
  const wellFormed = (row: LearningSetting) =>
    typeof row?.name === 'string' &&
    typeof row.learn === 'boolean' &&
    (row.weight === undefined || (row.weight >= 0 && row.weight <= 1)) &&
    Object.values(row.options ?? {}).every((value) => value >= 0) &&
    typeof row.metrics === 'object';
  if (typeof learning.metric !== 'string' || rows.length === 0 || !rows.every(wellFormed))
    return [
      'learning: must hold a metric and a grid of settings (name, learn, options ≥ 0, weight in [0, 1], metrics)',
    ];
  return rows.some((r) => r.name === learning.chosen)
    ? []
    : [`learning.chosen: must name a row of learning.grid (got "${learning.chosen}")`];
}

/** The words that name a model variant, as lookups and their errors spell it. */
export function describeVariant(
  entry: Pick<ModelEntry, 'kind' | 'role' | 'dtype' | 'form' | 'fusion'>,
): string {
  const fusion = entry.fusion === 'early' ? ' early-fusion' : '';
  return `${entry.kind}${fusion} ${entry.role} ${entry.dtype}${entry.form ? ` (${entry.form})` : ''}`;
}

// Lookups pick a model by (fusion, role, dtype, form); two entries with the same key would make that ambiguous.
function uniqueVariants(field: string, entries: ModelEntry[]): string[] {
  const seen = new Map<string, number>();
  const problems: string[] = [];
  entries.forEach((entry, i) => {
    const key = describeVariant(entry);
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else problems.push(`${field}[${i}]: a second ${key} (also ${field}[${first}])`);
  });
  return problems;
}

function catalogConsistency(catalog: BundleCatalog, count: number): string[] {
  const problems: string[] = [];
  for (const field of CATALOG_FIELDS) {
    const length = catalog[field].length;
    if (length !== count)
      problems.push(`${field}: has ${length} entries, expected ${count} (the manifest's catalog.count)`);
  }
  const seen = new Map<string, number>();
  catalog.ids.forEach((id, i) => {
    const first = seen.get(id);
    if (first === undefined) seen.set(id, i);
    else problems.push(`ids[${i}]: duplicate id ${JSON.stringify(id)} (also ids[${first}])`);
  });
  return problems;
}

// --- ajv errors in words -------------------------------------------------------------------------

function describeErrors(errors: ErrorObject[], root: AnySchemaObject): string[] {
  // Branches of a failed anyOf are noise next to the anyOf's own message; an `if` error only says that
  // its `then`/`else` failed, whose own errors say how.
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf').map((e) => `${e.schemaPath}/`);
  const kept = errors.filter(
    (e) => e.keyword !== 'if' && !anyOfs.some((prefix) => e.schemaPath.startsWith(prefix)),
  );
  return [...new Set(kept.map((e) => describeError(e, root)))];
}

function describeError(error: ErrorObject, root: AnySchemaObject): string {
  const segments = pointerSegments(error.instancePath);
  const at = (words: string, path = segments) => (path.length > 0 ? `${jsonPath(path)}: ${words}` : words);
  const got = ` (got ${show(error.data)})`;
  const params = error.params as Record<string, unknown>;
  const condition = branchCondition(error.schemaPath, root);
  switch (error.keyword) {
    case 'required': {
      const when = condition ? ` (required when ${condition})` : '';
      return at(`missing field ${JSON.stringify(params.missingProperty)}${when}`);
    }
    case 'additionalProperties':
      return at(`unknown field ${JSON.stringify(params.additionalProperty)}`);
    case 'false schema': {
      const field = segments.at(-1) ?? '';
      const when = condition ? ` only allowed when ${condition}` : ' not allowed';
      return at(`field ${JSON.stringify(field)} is${when}`, segments.slice(0, -1));
    }
    case 'enum':
      return at(`must be one of ${(params.allowedValues as unknown[]).join(', ')}${got}`);
    case 'const':
      return at(`must be ${show(params.allowedValue)}${got}`);
    case 'type':
      return at(`must be ${String(params.type).split(',').map(article).join(' or ')}${got}`);
    case 'minimum':
      return at(`must be at least ${params.limit}${got}`);
    case 'minLength':
      return at('must not be empty');
    case 'minItems':
      return at(`must have at least ${params.limit} entr${params.limit === 1 ? 'y' : 'ies'}${got}`);
    case 'uniqueItems':
      return at(
        `entries [${params.j}] and [${params.i}] are both ${show((error.data as unknown[])[params.i as number])}`,
      );
    case 'pattern':
    case 'anyOf': {
      const description = (error.parentSchema as { description?: string } | undefined)?.description;
      return at(`must be ${description ?? `matching ${String(params.pattern)}`}${got}`);
    }
    default:
      return at(error.message ?? `fails ${error.keyword}`);
  }
}

/** The `if` condition of the `then`/`else` branch an error comes from, in words; undefined outside one. */
function branchCondition(schemaPath: string, root: AnySchemaObject): string | undefined {
  const segments = pointerSegments(schemaPath.replace(/^#/, ''));
  let branch = segments.length - 1;
  while (branch >= 0 && segments[branch] !== 'then' && segments[branch] !== 'else') branch--;
  if (branch < 0) return undefined;
  let schema: unknown = root;
  for (const segment of segments.slice(0, branch)) schema = (schema as Record<string, unknown>)?.[segment];
  const condition = (schema as { if?: { properties?: Record<string, { const?: unknown }> } })?.if;
  const words = Object.entries(condition?.properties ?? {})
    .filter(([, s]) => s.const !== undefined)
    .map(([field, s]) => `${field} is ${show(s.const)}`);
  return words.length > 0 ? words.join(' and ') : undefined;
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '' || pointer === '/') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** `["rankers", "2", "inputs"]` → `rankers[2].inputs`; odd keys in brackets (`metrics["HR@10"]`). */
function jsonPath(segments: string[]): string {
  let path = '';
  for (const segment of segments) {
    if (/^\d+$/.test(segment)) path += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(segment)) path += path === '' ? segment : `.${segment}`;
    else path += `[${JSON.stringify(segment)}]`;
  }
  return path;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : type === 'null' ? 'null' : `a ${type}`;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}
