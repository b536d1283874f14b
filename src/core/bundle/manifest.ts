/**
 * The bundle contract: what `edgerec bundle` writes to `models/<version>/manifest.json` and what every
 * loader (Node, browser worker, server registry) reads. Every field is required unless marked optional;
 * `validateManifest` rejects a missing or an extra field by its path.
 */

export const MANIFEST_FORMAT = 1;

export const ITEM_DTYPES = ['f32', 'f16', 'i8'] as const;
export type ItemDtype = (typeof ITEM_DTYPES)[number];

export const MODEL_DTYPES = ['fp32', 'fp16', 'int8'] as const;
export type ModelDtype = (typeof MODEL_DTYPES)[number];

/**
 * int8 graph forms. `dq`: int8 weights with per-channel scales feeding DequantizeLinear, float
 * activations — every node has a GPU kernel on ORT's webgpu EP. `qdq`: also calibrated static activation
 * Quantize/DequantizeLinear pairs, which ORT's CPU and wasm EPs fuse into integer kernels, but whose
 * QuantizeLinear would fall back to the CPU on webgpu.
 */
export const INT8_FORMS = ['dq', 'qdq'] as const;
export type Int8Form = (typeof INT8_FORMS)[number];

export const MODEL_KINDS = ['ranker', 'encoder'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

export const MODEL_ROLES = ['teacher', 'student'] as const;
export type ModelRole = (typeof MODEL_ROLES)[number];

export const EXECUTION_PROVIDERS = ['webgpu', 'wasm'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

/** The ranker's heads, in the order of the columns of its `probs` output. */
export const RANKER_HEADS = ['click', 'closeup', 'save', 'hide'] as const;
/** A head of the ranker: the probability of one action. */
export type RankerHead = (typeof RANKER_HEADS)[number];

/**
 * How a ranker sees the real-time sequence. `late`: only as the compact encoder's `user_short`. `early`:
 * also through target attention from the candidate over the newest actions (inputs `seq_*`).
 */
export const RANKER_FUSIONS = ['late', 'early'] as const;
export type RankerFusion = (typeof RANKER_FUSIONS)[number];

/** A file of the bundle, relative to the manifest's folder. Content-addressed: its name carries its hash. */
export interface FileRef {
  file: string;
  bytes: number;
  /** Lower-case hex SHA-256 of the file's bytes. */
  sha256: string;
}

/** Offline metrics of a variant on the bundle's test split (names like `HR@10`, `AUC.save`). */
export type Metrics = Record<string, number>;

/** The item table retrieval runs over: `count × dim` row-major, little-endian. */
export interface ItemTableEntry extends FileRef {
  dtype: ItemDtype;
  count: number;
  dim: number;
  /** i8 only: one float32 scale per row, symmetric. */
  scales?: FileRef;
  /**
   * i8 only: one scale per dimension (value = int8 · rowScale · columnScale). Dimensions differ in spread
   * (4× between columns of our tables), so rows are quantized after dividing each column by its RMS;
   * a scan folds these into the query once, and the per-row scan stays pure int8.
   */
  columnScales?: number[];
  metrics: Metrics;
}

export interface TensorSpec {
  name: string;
  dtype: 'float32' | 'int64';
  /**
   * 'batch' marks the dynamic batch dimension (one row per candidate); 'users' a dynamic dimension of
   * one row per user, where 1 broadcasts over every candidate (the early-fusion ranker's sequence).
   */
  shape: (number | 'batch' | 'users')[];
  description: string;
}

export interface ModelEntry extends FileRef {
  kind: ModelKind;
  role: ModelRole;
  dtype: ModelDtype;
  /** int8 only. */
  form?: Int8Form;
  /** Trainable parameters. */
  params: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Rankers only: the columns of the `probs` output. */
  heads?: RankerHead[];
  /** Rankers only; absent = `late` (bundles from before early fusion). */
  fusion?: RankerFusion;
  /** Execution providers this variant is meant for, best first. */
  providers: ExecutionProvider[];
  metrics: Metrics;
}

export interface CatalogRef extends FileRef {
  count: number;
}

export interface DatasetInfo {
  name: string;
  format: string;
  users: number;
  items: number;
  events: number;
  protocol: string;
  seed: number;
}

/** The learner's settings a bundle may set (src/core/learning's `LearningOptions` keys), all numbers. */
export const LEARNING_SETTING_KEYS = [
  'learningRate',
  'steps',
  'l2',
  'scale',
  'halfLifeDays',
  'hideWeight',
  'implicitWeight',
  'sampled',
  'maxImplicit',
  'maxEvents',
] as const;
export type LearningSettingKey = (typeof LEARNING_SETTING_KEYS)[number];

/** One on-device learning setting the build scored on the validation window. */
export interface LearningSetting {
  /** Its name in the validation table, e.g. `off`, `l2=10`, `l2=1:weight=0.5`. */
  name: string;
  /** False: the device does not learn (the engine's inference-only request). */
  learn: boolean;
  /** The learner's settings that differ from the engine's built-in defaults. */
  options?: Partial<Record<LearningSettingKey, number>>;
  /** The learned embedding's weight against the encoder's in the retrieval query (default 1). */
  weight?: number;
  /** Its validation metrics (the replay's, means over users). */
  metrics: Metrics;
}

/**
 * On-device learning chosen for this bundle at build time: the replay (src/core/replay) of a seeded
 * sample of the validation window's users, once per setting of a small grid that includes not learning;
 * `chosen` names the row of `grid` with the best `metric`. Absent (bundles from before the choice): the
 * engine's built-in defaults.
 */
export interface BundleLearning {
  chosen: string;
  chosenBy: 'validation';
  metric: string;
  /** Users replayed (the seeded sample), feed requests scored, and the sample's seed. */
  users: number;
  requests: number;
  seed: number;
  grid: LearningSetting[];
}

export interface BundleManifest {
  format: typeof MANIFEST_FORMAT;
  version: string;
  /** ISO 8601. */
  created: string;
  dataset: DatasetInfo;
  dim: number;
  items: ItemTableEntry[];
  catalog: CatalogRef;
  rankers: ModelEntry[];
  encoders: ModelEntry[];
  utility: { weights: Record<RankerHead, number> };
  /** Names of the ranker's context features, in the order of its `context` input. */
  context: string[];
  /**
   * The student the engine runs, chosen on the validation window by mean head AUC (each fusion's number
   * recorded). Absent = `late` (bundles from before early fusion).
   */
  defaultRanker?: { fusion: RankerFusion; validation: Partial<Record<RankerFusion, number>> };
  /** On-device learning as the validation window chose it for this bundle (absent: built-in defaults). */
  learning?: BundleLearning;
  /**
   * The global model whose space the item tables (and the encoder's distillation target, and the server's
   * user embeddings) are in, and why: each candidate's validation score, or `forced` by `--retrieval`.
   * Absent = PinnerFormer (bundles from before the choice).
   */
  retrieval?: {
    model: RetrievalModelName;
    chosenBy: 'validation' | 'forced' | 'only-candidate';
    metric: string;
    validation: Partial<Record<RetrievalModelName, number>>;
    /** Set when the blend was scored: its weight, per-space scales and validation grid. */
    blend?: RetrievalBlend;
  };
}

/**
 * Global models a bundle's retrieval space can come from; `blend` is PinnerFormer's and LightGCN's
 * scores mixed, s = (1−w)·s_pf/σ_pf + w·s_lg/σ_lg, served as one dot product over concatenated rows.
 */
export const RETRIEVAL_MODEL_NAMES = ['pinnerformer', 'lightgcn', 'blend'] as const;
export type RetrievalModelName = (typeof RETRIEVAL_MODEL_NAMES)[number];

/** The blend of PinnerFormer's and LightGCN's scores that validation chose (or the forced blend's best weight). */
export interface RetrievalBlend {
  /** w: LightGCN's share of the blended score (PinnerFormer's is 1 − w). */
  weight: number;
  /**
   * σ of each space: the standard deviation of its scores over every (validation user, item) pair, so that
   * w weighs scores of equal spread (the two spaces' raw scores differ in scale).
   */
  scales: { pinnerformer: number; lightgcn: number };
  /** Validation score of each weight tried. */
  grid: { weight: number; score: number }[];
}

/** What `catalog.json` holds, every array aligned with the item index. */
export interface BundleCatalog {
  ids: string[];
  titles: string[];
  topics: string[][];
  /** Item statistics the ranker's context features derive from, as of the bundle's data. */
  positives: number[];
  impressions: number[];
  /** First time the item was seen (ms since the epoch), or null when never. */
  firstSeen: (number | null)[];
}
