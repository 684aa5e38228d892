/**
 * A hand-written schedule kept in the regression format: a server restart while the API server
 * is down, one client partitioned and another's host paused, then a lowered connection limit, a
 * rename and a 410. Deletions made during the outage must reach every client after the restart.
 */
import { replayRegression } from './replay.ts';

replayRegression('restartDuringOutageAndPartition.json',
  'a server restart during an API outage, with a partitioned client and a paused host, loses nothing');
