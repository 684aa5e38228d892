import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * Forces full collections, for tests that watch WeakRefs die. WeakRefs read in the current job
 * stay alive until it ends, hence a turn of the event loop before each collection.
 */
export async function collectGarbage(): Promise<void> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
}
