// Where the shipped demo config lives, so `striatum run` works with no flags.
import { fileURLToPath } from 'node:url';

/** examples/sim.yaml in the installed package (dist/src/cli → package root). */
export const DEFAULT_CONFIG = fileURLToPath(new URL('../../../examples/sim.yaml', import.meta.url));
