// The second core's entry: LightGCN trains here beside the GNN and PinnerFormer on the main thread. Plain
// JavaScript so that it loads the same way under the CLI and under Vitest: tsx's loader is registered in
// this thread before the TypeScript stage is imported.
const { register } = await import('tsx/esm/api');
register();
await import('./lightgcn-thread-main.ts');
