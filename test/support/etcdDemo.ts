/**
 * `npm run etcd-demo`: the demo cluster (examples/cluster) in a local etcd, in Calico's etcd
 * layout, for `npm run cattail -- --datastore etcdv3`. Starts a throwaway etcd on
 * 127.0.0.1:2379 (data in a temporary directory, removed on exit) and runs until Ctrl-C, or,
 * with `--endpoints URL[,URL...]`, loads an etcd that is already running and exits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EtcdClient } from '../../src/datastore/etcd/index.ts';
import { putAll, waitEtcdReady } from './etcdE2e.ts';
import { readManifests, toEtcdLayout } from './etcdLayout.ts';
import { EtcdMember } from './etcdProcess.ts';

const { values } = parseArgs({ options: { endpoints: { type: 'string' }, dir: { type: 'string', default: path.join(import.meta.dirname, '../../examples/cluster') } } });

let member: EtcdMember | undefined;
let baseDir: string | undefined;
let endpoints = values.endpoints?.split(',').map((e) => e.trim()).filter((e) => e !== '');
if (endpoints === undefined) {
  baseDir = mkdtempSync(path.join(tmpdir(), 'cattail-etcd-demo-'));
  const spec = { name: 'demo', clientPort: 2379, peerPort: 2380 };
  member = new EtcdMember(spec, [spec], undefined, baseDir);
  member.start();
  endpoints = [member.clientUrl];
}
const client = new EtcdClient({ endpoints, requestTimeoutMs: 10_000 });
const stop = async (code: number): Promise<never> => {
  client.close();
  await member?.kill('SIGTERM');
  if (baseDir !== undefined) rmSync(baseDir, { recursive: true, force: true });
  process.exit(code);
};
try {
  await waitEtcdReady(client);
  const kvs = toEtcdLayout(readManifests(values.dir));
  await putAll(client, kvs);
  console.log(`loaded ${kvs.size} keys from ${values.dir} into etcd at ${endpoints.join(',')}`);
} catch (err) {
  console.error(`etcd-demo: ${(err as Error).message}${member ? ' (is port 2379 or 2380 already in use? then pass --endpoints)' : ''}`);
  await stop(1);
}
console.log(`serve it with:  npm run cattail -- --datastore etcdv3 --etcd-endpoints ${endpoints.join(',')}`);
if (member === undefined) await stop(0);
console.log('etcd runs until Ctrl-C');
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
