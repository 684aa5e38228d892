/**
 * One etcd watcher over the v3 HTTP/JSON gateway (`POST /v3/watch`), the streaming API an agent
 * without gRPC would use. The gateway writes one JSON watch response per line; events are
 * counted by their `"kv":` fields without parsing the JSON or the base64 values.
 */
import http from 'node:http';

const KV_MARKER = Buffer.from('"kv":');

export class EtcdWatcher {
  events = 0;
  bytes = 0;
  readonly #req: http.ClientRequest;

  private constructor(req: http.ClientRequest) {
    this.#req = req;
  }

  /** Watches every key under `prefix`; resolves once etcd confirms the watch was created. */
  static watch(port: number, prefix: string, onEvents: (w: EtcdWatcher) => void): Promise<EtcdWatcher> {
    const body = JSON.stringify({ create_request: { key: b64(prefix), range_end: b64(prefixEnd(prefix)) } });
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/v3/watch', method: 'POST', agent: false, headers: { 'content-type': 'application/json' } });
      const w = new EtcdWatcher(req);
      let created = false;
      let rest: Buffer = Buffer.alloc(0);
      req.on('response', (res) => {
        if (res.statusCode !== 200) reject(new Error(`etcd watch answered HTTP ${res.statusCode}`));
        res.on('data', (chunk: Buffer) => {
          w.bytes += chunk.length;
          const buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
          let start = 0;
          for (let nl = buf.indexOf(0x0a, start); nl >= 0; nl = buf.indexOf(0x0a, start)) {
            const n = countMarkers(buf, start, nl);
            if (!created) {
              created = true;
              resolve(w);
            }
            if (n > 0) {
              w.events += n;
              onEvents(w);
            }
            start = nl + 1;
          }
          rest = buf.subarray(start);
        });
      });
      req.on('error', (err) => {
        if (!created) reject(err);
      });
      req.end(body);
    });
  }

  close(): void {
    this.#req.destroy();
  }
}

function countMarkers(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let at = buf.indexOf(KV_MARKER, from); at >= 0 && at < to; at = buf.indexOf(KV_MARKER, at + KV_MARKER.length)) n++;
  return n;
}

export function b64(s: string): string {
  return Buffer.from(s).toString('base64');
}

/** The end of the range holding every key with this prefix: the prefix with its last byte incremented. */
export function prefixEnd(prefix: string): string {
  const b = Buffer.from(prefix);
  b[b.length - 1] = (b[b.length - 1] as number) + 1;
  return b.toString('latin1');
}
