// The data layer in one import: types, readers' common entry point (registry), cache, synthetic data, statistics,
// downloads. Readers themselves (amazon2023, d3, movielens, goodreads) are reached through loadDataset.
export * from './types';
export { buildSamples, chronologicalSplit } from './samples';
export {
  availableDatasets,
  dataRoot,
  datasetOptions,
  defaultDataset,
  DOWNLOADABLE,
  isDownloadable,
  KNOWN_DATASETS,
  loadDataset,
  prepareDataset,
  READER_OPTIONS,
  READER_VERSION,
  resolveDataset,
  sourceFiles,
  unavailableError,
  type DatasetEntry,
  type DatasetOptions,
  type LoadOptions,
  type PreparedDataset,
  type ReaderId,
} from './registry';
export {
  cacheDir,
  cacheKey,
  cachePath,
  CACHE_FORMAT_VERSION,
  deserializeDataset,
  describeFiles,
  projectRoot,
  readCache,
  serializeDataset,
  writeCache,
  type SourceFile,
} from './cache';
export { generateSynthetic, SYNTHETIC_DEFAULTS, SYNTHETIC_KINDS, SYNTHETIC_VERSION, type SyntheticOptions } from './synthetic';
export { datasetStats, formatStatsTable, histogram, type DatasetStats, type HistogramBin } from './stats';
export { downloadDataset, downloadSource, type DownloadOptions, type DownloadResult } from './download';
