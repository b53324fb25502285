// Opens the episode store a config or --store names: a postgres:// URL is PostgreSQL, anything else SQLite.
import type { Logger } from '../log.js';
import { isPostgresUrl, type EpisodeStore } from './episode-store.js';
import { PgEpisodeStore } from './pg-store.js';
import { RolloutStore } from './store.js';

export interface OpenStoreOptions {
  readonly logger: Logger;
  /** Only reading (episodes, export): SQLite opens read-only and a missing file is an error; PostgreSQL is not migrated. */
  readonly readonly?: boolean;
  /** PostgreSQL: give up after this long unreachable (default: keep retrying with backoff). */
  readonly maxWaitMs?: number;
  /** SQLite: the file stops growing at about this many bytes (writes then fail with SQLITE_FULL). */
  readonly maxBytes?: number;
}

export async function openEpisodeStore(location: string, o: OpenStoreOptions): Promise<EpisodeStore> {
  if (isPostgresUrl(location)) return PgEpisodeStore.open(location, { logger: o.logger, readonly: o.readonly, maxWaitMs: o.maxWaitMs });
  return o.readonly === true ? RolloutStore.openExisting(location) : new RolloutStore(location, { maxBytes: o.maxBytes });
}
