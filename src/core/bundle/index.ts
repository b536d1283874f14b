/** The bundle contract: manifest types, their schemas and validation, integrity checks and the loader. */
export { IntegrityError, sha256Hex, verifyFile } from './integrity.ts';
export {
  Bundle,
  type BundleSource,
  BundleSourceError,
  type DecodedItemTable,
  decodeItemTableBytes,
  httpBundleSource,
  MANIFEST_FILE,
  VariantNotFoundError,
} from './loader.ts';
export {
  type BundleCatalog,
  type BundleManifest,
  type CatalogRef,
  type DatasetInfo,
  EXECUTION_PROVIDERS,
  type ExecutionProvider,
  type FileRef,
  INT8_FORMS,
  type Int8Form,
  ITEM_DTYPES,
  type ItemDtype,
  type ItemTableEntry,
  MANIFEST_FORMAT,
  type Metrics,
  MODEL_DTYPES,
  MODEL_KINDS,
  MODEL_ROLES,
  type ModelDtype,
  type ModelEntry,
  type ModelKind,
  type ModelRole,
  RANKER_FUSIONS,
  RANKER_HEADS,
  type RankerFusion,
  type RankerHead,
  RETRIEVAL_MODEL_NAMES,
  type RetrievalBlend,
  type RetrievalModelName,
  type TensorSpec,
} from './manifest.ts';
export { CATALOG_FIELDS, CATALOG_SCHEMA, MANIFEST_SCHEMA } from './schema.ts';
export {
  describeVariant,
  ITEM_DTYPE_BYTES,
  ManifestError,
  parseCatalog,
  parseManifest,
  validateCatalog,
  validateManifest,
} from './validate.ts';
export { checkVersionName, VERSION_NAME, versionNameProblem } from './version-name.ts';
