import { transferHandlers } from 'comlink';
import { fromWireError, toWireError, type WireError } from '../core/contract/error-wire.ts';

interface Thrown {
  value: unknown;
}

let installed = false;

/**
 * Replaces comlink's `throw` handler, on whichever side calls it (the page and the engine worker both do),
 * so that a rejection keeps its class, `code` and detail fields; comlink's own keeps only name and message.
 * Called by createRecommender and by the worker rather than on import: the package is side-effect free.
 */
export function installErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const original = transferHandlers.get('throw')!;
  transferHandlers.set('throw', {
    // comlink marks a thrown value with a private symbol: its own handler is the one that can tell.
    canHandle: (value): value is Thrown => original.canHandle(value),
    serialize: (thrown: Thrown) => [toWireError(thrown.value), []],
    deserialize: (wire: WireError) => {
      throw fromWireError(wire);
    },
  });
}
