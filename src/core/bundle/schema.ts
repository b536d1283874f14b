/**
 * JSON Schemas (draft-07) of `manifest.json` and `catalog.json`. Plain data, self-contained (no `$ref`),
 * so the server can put them in its OpenAPI document as they are. `validate.ts` turns their errors into
 * sentences: it reads a `description` as the words after "must be", and an `if` that holds a `const` as
 * the condition of its `then`/`else`, so keep descriptions phrased that way.
 */
import {
  EXECUTION_PROVIDERS,
  INT8_FORMS,
  ITEM_DTYPES,
  MANIFEST_FORMAT,
  MODEL_DTYPES,
  MODEL_ROLES,
  type ModelKind,
  RANKER_FUSIONS,
  RANKER_HEADS,
  RETRIEVAL_MODEL_NAMES,
} from './manifest.ts';
import { VERSION_NAME } from './version-name.ts';

const DRAFT_07 = 'http://json-schema.org/draft-07/schema#';

const SHA256 = {
  type: 'string',
  pattern: '^[0-9a-f]{64}$',
  description: '64 lower-case hex digits (the SHA-256 of the file)',
} as const;

// Segments from a small alphabet keep a bundle path safe as a file name on every OS and as a URL path
// (no scheme, query, fragment, escapes or traversal), which the loaders resolve against the bundle folder.
const RELATIVE_PATH = {
  type: 'string',
  pattern: '^(?!\\.{1,2}(/|$))(?!.*/\\.{1,2}(/|$))[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$',
  description:
    'a relative path inside the bundle folder: names of letters, digits, ".", "_" or "-" joined by "/", ' +
    'none of them "." or ".." (no leading "/", no "\\")',
} as const;

const COUNT = { type: 'integer', minimum: 0 } as const;
const POSITIVE = { type: 'integer', minimum: 1 } as const;
const NAME = { type: 'string', minLength: 1 } as const;

const METRICS = {
  type: 'object',
  description: 'offline metrics of the variant on the test split, by name (e.g. "HR@10")',
  additionalProperties: { type: 'number' },
} as const;

const FILE_REF_PROPERTIES = { file: RELATIVE_PATH, bytes: COUNT, sha256: SHA256 } as const;
const FILE_REF_REQUIRED = ['file', 'bytes', 'sha256'] as const;

const FILE_REF = {
  type: 'object',
  additionalProperties: false,
  required: FILE_REF_REQUIRED,
  properties: FILE_REF_PROPERTIES,
} as const;

const ITEM_TABLE = {
  type: 'object',
  additionalProperties: false,
  required: [...FILE_REF_REQUIRED, 'dtype', 'count', 'dim', 'metrics'],
  properties: {
    ...FILE_REF_PROPERTIES,
    dtype: { enum: ITEM_DTYPES },
    count: POSITIVE,
    dim: POSITIVE,
    scales: FILE_REF,
    columnScales: {
      type: 'array',
      items: { type: 'number', exclusiveMinimum: 0 },
      description: 'positive numbers, one a dimension',
    },
    metrics: METRICS,
  },
  if: { required: ['dtype'], properties: { dtype: { const: 'i8' } } },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else, never awaited.
  then: { required: ['scales', 'columnScales'] },
  else: { properties: { scales: false, columnScales: false } },
} as const;

const TENSOR = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'dtype', 'shape', 'description'],
  properties: {
    name: NAME,
    dtype: { enum: ['float32', 'int64'] },
    shape: {
      type: 'array',
      items: {
        description:
          'a dimension size (a positive integer), "batch" (one row per candidate) or "users" (one row per user; 1 broadcasts over the candidates)',
        anyOf: [POSITIVE, { const: 'batch' }, { const: 'users' }],
      },
    },
    description: { type: 'string' },
  },
} as const;

function modelEntry(kind: ModelKind) {
  const common = {
    ...FILE_REF_PROPERTIES,
    kind: { const: kind },
    role: { enum: MODEL_ROLES },
    dtype: { enum: MODEL_DTYPES },
    form: { enum: INT8_FORMS },
    params: COUNT,
    inputs: { type: 'array', minItems: 1, items: TENSOR },
    outputs: { type: 'array', minItems: 1, items: TENSOR },
    providers: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: EXECUTION_PROVIDERS } },
    metrics: METRICS,
  } as const;
  const required = [
    ...FILE_REF_REQUIRED,
    'kind',
    'role',
    'dtype',
    'params',
    'inputs',
    'outputs',
    'providers',
    'metrics',
  ] as const;
  // A ranker's heads name the columns of its `probs` output, so a ranker cannot go without them; an
  // encoder has no heads, and leaving them out of its properties makes them an unknown field there.
  const byKind =
    kind === 'ranker'
      ? {
          required: [...required, 'heads'],
          properties: {
            ...common,
            heads: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: RANKER_HEADS } },
            fusion: { enum: RANKER_FUSIONS },
          },
        }
      : { required, properties: common };
  return {
    type: 'object',
    additionalProperties: false,
    ...byKind,
    if: { required: ['dtype'], properties: { dtype: { const: 'int8' } } },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else, never awaited.
    then: { required: ['form'] },
    else: { properties: { form: false } },
  } as const;
}

const DATASET = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'format', 'users', 'items', 'events', 'protocol', 'seed'],
  properties: {
    name: NAME,
    format: NAME,
    users: COUNT,
    items: COUNT,
    events: COUNT,
    protocol: NAME,
    seed: { type: 'integer' },
  },
} as const;

const UTILITY = {
  type: 'object',
  additionalProperties: false,
  required: ['weights'],
  properties: {
    weights: {
      type: 'object',
      additionalProperties: false,
      required: RANKER_HEADS,
      properties: Object.fromEntries(RANKER_HEADS.map((head) => [head, { type: 'number' }])),
    },
  },
} as const;

/** The schema of `manifest.json` (`BundleManifest`). */
export const MANIFEST_SCHEMA = {
  $schema: DRAFT_07,
  title: 'edgerec bundle manifest',
  type: 'object',
  additionalProperties: false,
  required: [
    'format',
    'version',
    'created',
    'dataset',
    'dim',
    'items',
    'catalog',
    'rankers',
    'encoders',
    'utility',
    'context',
  ],
  properties: {
    format: { const: MANIFEST_FORMAT },
    // The version names the bundle's folder and a URL path segment (reserved names and ".." are refused
    // by checkVersionName, where a pattern would be unreadable).
    version: {
      type: 'string',
      pattern: VERSION_NAME.source,
      description:
        'a folder name: 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or a digit',
    },
    created: {
      type: 'string',
      pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2})$',
      description: 'an ISO 8601 date-time with a time zone, e.g. "2025-01-31T12:00:00Z"',
    },
    dataset: DATASET,
    dim: POSITIVE,
    items: { type: 'array', minItems: 1, items: ITEM_TABLE },
    catalog: {
      type: 'object',
      additionalProperties: false,
      required: [...FILE_REF_REQUIRED, 'count'],
      properties: { ...FILE_REF_PROPERTIES, count: POSITIVE },
    },
    rankers: { type: 'array', items: modelEntry('ranker') },
    encoders: { type: 'array', items: modelEntry('encoder') },
    utility: UTILITY,
    context: { type: 'array', uniqueItems: true, items: NAME },
    defaultRanker: {
      type: 'object',
      additionalProperties: false,
      required: ['fusion', 'validation'],
      properties: {
        fusion: { enum: RANKER_FUSIONS },
        validation: {
          type: 'object',
          additionalProperties: false,
          properties: Object.fromEntries(RANKER_FUSIONS.map((f) => [f, { type: 'number' }])),
        },
      },
    },
    retrieval: {
      type: 'object',
      additionalProperties: false,
      required: ['model', 'chosenBy', 'metric', 'validation'],
      properties: {
        model: { enum: RETRIEVAL_MODEL_NAMES },
        chosenBy: { enum: ['validation', 'forced', 'only-candidate'] },
        metric: NAME,
        validation: {
          type: 'object',
          additionalProperties: false,
          properties: Object.fromEntries(RETRIEVAL_MODEL_NAMES.map((m) => [m, { type: 'number' }])),
        },
        blend: {
          type: 'object',
          additionalProperties: false,
          required: ['weight', 'scales', 'grid'],
          properties: {
            weight: { type: 'number', minimum: 0, maximum: 1 },
            scales: {
              type: 'object',
              additionalProperties: false,
              required: ['pinnerformer', 'lightgcn'],
              properties: {
                pinnerformer: { type: 'number', exclusiveMinimum: 0 },
                lightgcn: { type: 'number', exclusiveMinimum: 0 },
              },
            },
            grid: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['weight', 'score'],
                properties: { weight: { type: 'number' }, score: { type: 'number' } },
              },
            },
          },
        },
      },
    },
    // Its fields are checked in validate.ts (learningProblems): the worker's start-up JS has a size budget,
    // and ajv's generated code for this block cost it over a kilobyte.
    learning: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(
        ['chosen', 'chosenBy', 'metric', 'users', 'requests', 'seed', 'grid'].map((k) => [k, {}]),
      ),
    },
  },
} as const;

/** The schema of `catalog.json` (`BundleCatalog`); that its arrays have `count` entries is checked apart. */
export const CATALOG_SCHEMA = {
  $schema: DRAFT_07,
  title: 'edgerec bundle catalog',
  type: 'object',
  additionalProperties: false,
  required: ['ids', 'titles', 'topics', 'positives', 'impressions', 'firstSeen'],
  properties: {
    ids: { type: 'array', items: NAME },
    titles: { type: 'array', items: { type: 'string' } },
    topics: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
    positives: { type: 'array', items: { type: 'number', minimum: 0 } },
    impressions: { type: 'array', items: { type: 'number', minimum: 0 } },
    firstSeen: { type: 'array', items: { type: ['number', 'null'] } },
  },
} as const;

/** The arrays of `catalog.json`, each aligned with the item index. */
export const CATALOG_FIELDS = CATALOG_SCHEMA.required;
