import { beforeAll, describe, expect, it } from 'vitest';
import {
  type BundleManifest,
  CATALOG_SCHEMA,
  MANIFEST_SCHEMA,
  ManifestError,
  parseCatalog,
  parseManifest,
  validateCatalog,
  validateManifest,
} from '../../src/core/bundle/index.ts';
import { InputError } from '../../src/core/errors.ts';
import { buildFixtureBundle, FIXTURE_CATALOG, FIXTURE_COUNT } from '../shared/bundle-fixture.ts';

let valid: BundleManifest;
beforeAll(async () => {
  valid = (await buildFixtureBundle()).manifest;
});

type Json = Record<string, unknown>;

/** A copy of the valid manifest, changed by `edit`. */
function edited(edit: (m: Json) => void): Json {
  const copy = structuredClone(valid) as unknown as Json;
  edit(copy);
  return copy;
}

/** The value at a dotted path such as `rankers.0.inputs.0`. */
function at(root: Json, path: string): Json {
  return path.split('.').reduce<Json>((node, key) => node[key] as Json, root);
}

function problemsOf(value: unknown): string[] {
  try {
    validateManifest(value);
  } catch (error) {
    if (error instanceof ManifestError) return error.problems;
    throw error;
  }
  return [];
}

describe('validateManifest', () => {
  it('passes the fixture manifest through unchanged, also after a round trip through JSON text', () => {
    expect(validateManifest(valid)).toBe(valid);
    expect(parseManifest(JSON.stringify(valid))).toEqual(valid);
  });

  it('throws a ManifestError, an InputError, that names the file and the path', () => {
    const bad = edited((m) => {
      delete at(m, 'catalog').sha256;
    });
    expect(() => validateManifest(bad)).toThrow(ManifestError);
    expect(() => validateManifest(bad)).toThrow(InputError);
    expect(() => validateManifest(bad)).toThrow('manifest.json: catalog: missing field "sha256"');
    expect(problemsOf(bad)).toEqual(['catalog: missing field "sha256"']);
  });

  it.each([
    ['', 'version', 'missing field "version"'],
    ['', 'utility', 'missing field "utility"'],
    ['catalog', 'count', 'catalog: missing field "count"'],
    ['dataset', 'seed', 'dataset: missing field "seed"'],
    ['items.0', 'count', 'items[0]: missing field "count"'],
    ['items.2.scales', 'sha256', 'items[2].scales: missing field "sha256"'],
    ['rankers.1', 'params', 'rankers[1]: missing field "params"'],
    ['rankers.0', 'heads', 'rankers[0]: missing field "heads"'],
    ['encoders.0', 'inputs', 'encoders[0]: missing field "inputs"'],
    ['rankers.0.inputs.1', 'shape', 'rankers[0].inputs[1]: missing field "shape"'],
    ['utility.weights', 'save', 'utility.weights: missing field "save"'],
  ])('reports a missing field: %s.%s', (parent, field, problem) => {
    const bad = edited((m) => {
      delete (parent ? at(m, parent) : m)[field];
    });
    expect(problemsOf(bad)).toEqual([problem]);
    expect(() => validateManifest(bad)).toThrow(`manifest.json: ${problem}`);
  });

  it.each([
    ['', 'unknown field "foo"'],
    ['dataset', 'dataset: unknown field "foo"'],
    ['catalog', 'catalog: unknown field "foo"'],
    ['items.1', 'items[1]: unknown field "foo"'],
    ['items.2.scales', 'items[2].scales: unknown field "foo"'],
    ['rankers.2', 'rankers[2]: unknown field "foo"'],
    ['encoders.0', 'encoders[0]: unknown field "foo"'],
    ['rankers.1.inputs.2', 'rankers[1].inputs[2]: unknown field "foo"'],
    ['encoders.0.outputs.0', 'encoders[0].outputs[0]: unknown field "foo"'],
    ['utility', 'utility: unknown field "foo"'],
    ['utility.weights', 'utility.weights: unknown field "foo"'],
  ])('reports an extra field in %s', (parent, problem) => {
    const bad = edited((m) => {
      (parent ? at(m, parent) : m).foo = 1;
    });
    expect(problemsOf(bad)).toEqual([problem]);
    expect(() => validateManifest(bad)).toThrow(`manifest.json: ${problem}`);
  });

  it.each([
    ['items.0', 'dtype', 'f8', 'items[0].dtype: must be one of f32, f16, i8 (got "f8")'],
    ['rankers.0', 'role', 'mentor', 'rankers[0].role: must be one of teacher, student (got "mentor")'],
    ['rankers.0', 'dtype', 'fp8', 'rankers[0].dtype: must be one of fp32, fp16, int8 (got "fp8")'],
    ['rankers.1', 'form', 'qq', 'rankers[1].form: must be one of dq, qdq (got "qq")'],
    ['rankers.0', 'kind', 'encoder', 'rankers[0].kind: must be "ranker" (got "encoder")'],
    ['encoders.0', 'kind', 'ranker', 'encoders[0].kind: must be "encoder" (got "ranker")'],
    [
      'rankers.0.inputs.0',
      'dtype',
      'float16',
      'rankers[0].inputs[0].dtype: must be one of float32, int64 (got "float16")',
    ],
    [
      'encoders.0',
      'providers',
      ['webgl'],
      'encoders[0].providers[0]: must be one of webgpu, wasm (got "webgl")',
    ],
    [
      'rankers.0',
      'heads',
      ['click', 'like'],
      'rankers[0].heads[1]: must be one of click, closeup, save, hide (got "like")',
    ],
    ['', 'format', 2, 'format: must be 1 (got 2)'],
  ])('reports a bad value: %s.%s = %j', (parent, field, value, problem) => {
    const bad = edited((m) => {
      (parent ? at(m, parent) : m)[field] = value;
    });
    expect(problemsOf(bad)).toEqual([problem]);
  });

  it('reports wrong types, bounds and formats in words', () => {
    const cases: [(m: Json) => void, string][] = [
      [(m) => (m.dim = '3'), 'dim: must be an integer (got "3")'],
      [(m) => (m.dim = 0), 'dim: must be at least 1 (got 0)'],
      [(m) => (at(m, 'items.0').bytes = -1), 'items[0].bytes: must be at least 0 (got -1)'],
      [(m) => (at(m, 'items.0').bytes = 1.5), 'items[0].bytes: must be an integer (got 1.5)'],
      [(m) => (m.items = []), 'items: must have at least 1 entry (got an empty array)'],
      [(m) => (m.rankers = {}), 'rankers: must be an array (got an object)'],
      [
        (m) => (at(m, 'catalog').sha256 = 'AB'.repeat(32)),
        `catalog.sha256: must be 64 lower-case hex digits (the SHA-256 of the file) (got "${'AB'.repeat(18)}…)`,
      ],
      [
        (m) => (m.created = 'yesterday'),
        'created: must be an ISO 8601 date-time with a time zone, e.g. "2025-01-31T12:00:00Z" (got "yesterday")',
      ],
      [
        (m) => (m.version = 'v 1'),
        'version: must be a folder name: 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or a digit (got "v 1")',
      ],
      [
        (m) => (at(m, 'rankers.0.inputs.0').shape = ['batch', 0]),
        'rankers[0].inputs[0].shape[1]: must be a dimension size (a positive integer), "batch" (one row per candidate) or "users" (one row per user; 1 broadcasts over the candidates) (got 0)',
      ],
      [
        (m) => (at(m, 'items.1').metrics = { 'HR@10': 'high' }),
        'items[1].metrics["HR@10"]: must be a number (got "high")',
      ],
      [
        (m) => (at(m, 'rankers.0').heads = ['save', 'save']),
        'rankers[0].heads: entries [0] and [1] are both "save"',
      ],
      [(m) => (m.context = ['hour', '']), 'context[1]: must not be empty'],
    ];
    for (const [edit, problem] of cases) expect(problemsOf(edited(edit))).toEqual([problem]);
  });

  it('requires scales exactly for the i8 table and a form exactly for int8 models', () => {
    expect(problemsOf(edited((m) => delete at(m, 'items.2').scales))).toEqual([
      'items[2]: missing field "scales" (required when dtype is "i8")',
    ]);
    expect(problemsOf(edited((m) => (at(m, 'items.1').scales = at(m, 'items.2').scales)))).toEqual([
      'items[1]: field "scales" is only allowed when dtype is "i8"',
    ]);
    expect(problemsOf(edited((m) => delete at(m, 'rankers.1').form))).toEqual([
      'rankers[1]: missing field "form" (required when dtype is "int8")',
    ]);
    expect(problemsOf(edited((m) => (at(m, 'encoders.0').form = 'dq')))).toEqual([
      'encoders[0]: field "form" is only allowed when dtype is "int8"',
    ]);
    expect(problemsOf(edited((m) => (at(m, 'encoders.0').heads = ['click'])))).toEqual([
      'encoders[0]: unknown field "heads"',
    ]);
  });

  it.each([
    '../catalog.json',
    'items/../../etc/passwd',
    'items/..',
    './catalog.json',
    '/etc/passwd',
    'items\\f16.bin',
    'https://evil.example/x.bin',
    'items//f16.bin',
    'items/f16.bin?x=1',
    '',
  ])('refuses the file path %j', (file) => {
    const problems = problemsOf(edited((m) => (at(m, 'items.1').file = file)));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^items\[1\]\.file: must be a relative path inside the bundle folder/);
  });

  it('accepts nested relative paths with dots inside names', () => {
    for (const file of ['items/f16.0123abcd.bin', 'a/b/c..d.bin', '.hidden', 'x'])
      expect(problemsOf(edited((m) => (at(m, 'catalog').file = file)))).toEqual([]);
  });

  it('checks what the schema cannot: sizes that must agree and variants that must be unique', () => {
    expect(problemsOf(edited((m) => (at(m, 'items.1').dim = 4)))).toEqual([
      "items[1].dim: must equal the manifest's dim 3 (got 4)",
      'items[1].bytes: must be count × dim × 2 = 40 for f16 (got 30)',
    ]);
    expect(problemsOf(edited((m) => (at(m, 'items.0').bytes = 61)))).toEqual([
      'items[0].bytes: must be count × dim × 4 = 60 for f32 (got 61)',
    ]);
    expect(problemsOf(edited((m) => (at(m, 'catalog').count = 6)))).toEqual([
      'items[0].count: must equal catalog.count 6 (got 5)',
      'items[1].count: must equal catalog.count 6 (got 5)',
      'items[2].count: must equal catalog.count 6 (got 5)',
    ]);
    expect(problemsOf(edited((m) => (at(m, 'items.2.scales').bytes = 5)))).toEqual([
      'items[2].scales.bytes: must be count × 4 = 20, one float32 a row (got 5)',
    ]);
    expect(problemsOf(edited((m) => (m.items as Json[]).push(at(m, 'items.1'))))).toEqual([
      'items[3].dtype: a second "f16" table (also items[1])',
    ]);
    expect(problemsOf(edited((m) => (at(m, 'rankers.2').form = 'dq')))).toEqual([
      'rankers[2]: a second ranker student int8 (dq) (also rankers[1])',
    ]);
    // The same variant of the other fusion is another model; of the same fusion, a duplicate.
    const twin = (fusion: string) =>
      edited((m) => {
        at(m, 'rankers.1').fusion = 'late';
        (m.rankers as Json[]).push({ ...at(m, 'rankers.1'), fusion, file: 'ranker-early.0123456789ab.onnx' });
      });
    expect(problemsOf(twin('early'))).toEqual([]);
    expect(problemsOf(twin('late'))).toEqual([
      'rankers[3]: a second ranker student int8 (dq) (also rankers[1])',
    ]);
  });

  it('lists the first five problems in its message and keeps them all', () => {
    const bad = edited((m) => {
      for (const key of ['version', 'created', 'dataset', 'dim', 'catalog', 'context', 'utility'])
        delete m[key];
    });
    let caught: ManifestError | undefined;
    try {
      validateManifest(bad);
    } catch (error) {
      caught = error as ManifestError;
    }
    expect(caught?.problems).toHaveLength(7);
    expect(caught?.file).toBe('manifest.json');
    expect(caught?.message).toBe(
      'manifest.json: missing field "version"; missing field "created"; missing field "dataset"; ' +
        'missing field "dim"; missing field "catalog" (and 2 more problems)',
    );
  });

  it('reports text that is not JSON, and a manifest that is not an object', () => {
    expect(() => parseManifest('{"format": 1,')).toThrow(/^manifest\.json: not valid JSON \(/);
    expect(() => validateManifest([])).toThrow('manifest.json: must be an object (got an empty array)');
    expect(() => validateManifest(null)).toThrow('manifest.json: must be an object (got null)');
  });
});

describe('the schemas', () => {
  /** Every object schema inside `schema`, with its path. */
  function objectSchemas(schema: unknown, path = '#'): [string, Json][] {
    if (schema === null || typeof schema !== 'object') return [];
    const node = schema as Json;
    const own: [string, Json][] = node.type === 'object' ? [[path, node]] : [];
    return own.concat(Object.entries(node).flatMap(([key, child]) => objectSchemas(child, `${path}/${key}`)));
  }

  it('are plain JSON, so the server can publish them', () => {
    expect(JSON.parse(JSON.stringify(MANIFEST_SCHEMA))).toEqual(MANIFEST_SCHEMA);
    expect(JSON.parse(JSON.stringify(CATALOG_SCHEMA))).toEqual(CATALOG_SCHEMA);
  });

  it('close every object but the metrics maps (additionalProperties: false)', () => {
    for (const schema of [MANIFEST_SCHEMA, CATALOG_SCHEMA])
      for (const [path, node] of objectSchemas(schema)) {
        if (path.endsWith('/metrics')) expect(node.additionalProperties).toEqual({ type: 'number' });
        else expect([path, node.additionalProperties]).toEqual([path, false]);
      }
  });

  it('require every field of the manifest types except the optional ones', () => {
    const required = (path: string) =>
      new Set(objectSchemas(MANIFEST_SCHEMA).find(([p]) => p === path)?.[1].required as string[]);
    const items = required('#/properties/items/items');
    expect(items).toEqual(new Set(['file', 'bytes', 'sha256', 'dtype', 'count', 'dim', 'metrics']));
    const encoders = required('#/properties/encoders/items');
    expect(encoders.has('form')).toBe(false);
    expect(encoders.has('heads')).toBe(false);
    expect(required('#/properties/rankers/items').has('heads')).toBe(true);
    // Optional so that bundles from before early fusion stay valid: they mean late fusion.
    expect(required('#/properties/rankers/items').has('fusion')).toBe(false);
    const top = required('#');
    expect(top.has('defaultRanker')).toBe(false);
    // Optional so that bundles from before the retrieval choice stay valid: they mean PinnerFormer.
    expect(top.has('retrieval')).toBe(false);
    // Optional so that bundles from before the learning choice stay valid: they learn as built in.
    expect(top.has('learning')).toBe(false);
    expect(top.size).toBe(Object.keys(MANIFEST_SCHEMA.properties).length - 3);
  });
});

describe('validateCatalog', () => {
  const catalog = () => structuredClone(FIXTURE_CATALOG) as unknown as Json;

  it('passes a catalog aligned with the item count', () => {
    const value = catalog();
    expect(validateCatalog(value, FIXTURE_COUNT)).toBe(value);
    expect(parseCatalog(JSON.stringify(value), FIXTURE_COUNT)).toEqual(FIXTURE_CATALOG);
  });

  it('reports arrays of the wrong length against the manifest count', () => {
    const value = catalog();
    (value.titles as string[]).pop();
    expect(() => validateCatalog(value, FIXTURE_COUNT)).toThrow(
      "catalog.json: titles: has 4 entries, expected 5 (the manifest's catalog.count)",
    );
    expect(() => validateCatalog(catalog(), 6, 'catalog.abc.json')).toThrow(
      /^catalog\.abc\.json: ids: has 5 entries, expected 6 .*; titles: has 5 entries/,
    );
  });

  it('reports unknown and missing fields, bad entries and duplicate ids by path', () => {
    const cases: [(c: Json) => void, string][] = [
      [(c) => (c.boards = []), 'unknown field "boards"'],
      [(c) => delete c.firstSeen, 'missing field "firstSeen"'],
      [
        (c) => ((c.firstSeen as unknown[])[2] = 'never'),
        'firstSeen[2]: must be a number or null (got "never")',
      ],
      [(c) => ((c.topics as unknown[])[1] = 'home'), 'topics[1]: must be an array (got "home")'],
      [(c) => ((c.positives as number[])[0] = -1), 'positives[0]: must be at least 0 (got -1)'],
      [(c) => ((c.ids as string[])[4] = 'p2'), 'ids[4]: duplicate id "p2" (also ids[1])'],
    ];
    for (const [edit, problem] of cases) {
      const value = catalog();
      edit(value);
      expect(() => validateCatalog(value, FIXTURE_COUNT)).toThrow(`catalog.json: ${problem}`);
    }
  });
});
