// Moved to src/util/histogram.ts (a neutral place: transports, rollouts and rewards use it too). This re-export
// keeps the files that still import it from here building; new code imports from util/.
export { LatencyHistogram } from '../util/histogram.js';
