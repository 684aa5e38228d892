/** The well-known port of the sync service, as Typha's. */
export const DEFAULT_SYNC_PORT = 5473;
export const DEFAULT_SYNC_PATH = '/sync';
/**
 * Client → server frames are tiny (hello, pong, ack); 64 KiB leaves room for a long clientInfo
 * while making it impossible for a client to make the server buffer much on its behalf.
 */
export const MAX_INBOUND_FRAME_BYTES = 64 * 1024;
