// The paper sections for the notebooks, one import: `import { ... } from './lib/paper/index'` (tslab needs the file,
// not the folder). One file per notebook section (data, main-results, reward-ablations, cold-start,
// reasoning-behaviors, efficiency; notebook 04 uses main-results' table), the shared section format (section.ts), the
// runs behind a section (runs.ts) and the writer + results index (output.ts). The grid runner and the settings
// helpers the notebooks' first cells use are re-exported from lib/experiment.
//
//   const runs = await runGrid({ experiment: 'main', profile, datasets, seeds, methods });
//   const main = metricsTable(groupRuns(runs), { baselineKinds: DEFAULT_BASELINE_KINDS });
//   showSectionTable(main.table);
//   showMarkdown((await writeSection(sectionDir('01-main-results'), { section: '01-main-results', tables: [main.table], ... })).markdown);
export * from './section';
export * from './runs';
export * from './output';
export * from './data';
export * from './main-results';
export * from './reward-ablations';
export * from './cold-start';
export * from './reasoning-behaviors';
export * from './efficiency';
export * from './recpo-learning';
export { runGrid, seedOverrides, experimentName, type GridOptions } from '../experiment/grid';
export { profileFromEnv } from '../experiment/config';
export { experimentMethods, sweep } from '../experiment/presets';
