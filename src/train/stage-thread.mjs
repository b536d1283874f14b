// The second core's entry: LightGCN, or the GNN's refit, trains here beside the main thread's stages. Plain
// JavaScript so that it loads the same way under the CLI and under Vitest: tsx's loader is registered in
// this thread before the TypeScript stage is imported.
const { register } = await import('tsx/esm/api');
register();
await import('./stage-thread-main.ts');
