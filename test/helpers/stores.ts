// The updater's store in tests that run it on SQLite and read it synchronously (inside waitFor probes).
import assert from 'node:assert/strict';
import type { EpisodeStore } from '../../src/updater/episode-store.js';
import { RolloutStore } from '../../src/updater/store.js';

export function sqliteStore(store: EpisodeStore): RolloutStore {
  assert.ok(store instanceof RolloutStore, `expected the SQLite store, got ${store.kind}`);
  return store;
}
