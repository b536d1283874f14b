// Moved to core (the feed pipeline decodes rows too); kept until engine.ts imports it from there.
export { itemRows, writeItemRow } from '../core/retrieval/index.ts';
