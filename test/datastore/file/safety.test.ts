/**
 * The file datastore never turns a broken directory into deletions, never runs out of memory
 * on a hostile one, and never says it is complete when it is not (issue 11 items 1–4 and 6,
 * issue 12 items 1–2). Unreadable paths are simulated in ways that work as root: a FIFO in
 * place of a file, and a failing `readdir` injected through the scanner's file-system port.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Stats } from 'node:fs';
import { mkdir, mkdtemp, open, link, rename, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { FileDatastore, type FileLimits, type ScanFileSystem } from '../../../src/datastore/file/index.ts';
import { KINDS } from '../../../src/datastore/kinds.ts';
import { silentLogger } from '../../../src/logger.ts';
import { createMetrics } from '../../../src/metrics.ts';
import { eventually } from '../../support/eventually.ts';
import { RecordingListener } from '../../support/k8sRecorder.ts';

const pod = (name: string, labels: Record<string, string> = {}): string =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: ns\n  labels: ${JSON.stringify(labels)}\nspec:\n  nodeName: node-1\n`;
const policy = (name: string): string =>
  `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: ${name}\nspec:\n  selector: all()\n`;

describe('FileDatastore safety', () => {
  let dir: string;
  let datastore: FileDatastore | undefined;
  let pods: RecordingListener;
  let policies: RecordingListener;
  let registry: Registry;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cattail-file-safety-'));
    pods = new RecordingListener();
    policies = new RecordingListener();
    registry = new Registry();
  });

  afterEach(async () => {
    await datastore?.close();
    datastore = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function start(options: { limits?: Partial<FileLimits>; fileSystem?: ScanFileSystem; root?: string } = {}): Promise<FileDatastore> {
    datastore = new FileDatastore({
      dir: options.root ?? dir, logger: silentLogger(), debounceMs: 20, pollIntervalMs: 0,
      metrics: createMetrics(registry, { defaultMetrics: false }),
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.fileSystem ? { fileSystem: options.fileSystem } : {}),
    });
    datastore.subscribe(KINDS.pods, pods);
    datastore.subscribe(KINDS.globalNetworkPolicies, policies);
    await datastore.start();
    return datastore;
  }

  async function limitCount(limit: string): Promise<number> {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'cattail_file_limit_exceeded_total');
    return Number(metric?.values.find((v) => v.labels.limit === limit)?.value ?? Number.NaN);
  }

  it('starts every limit counter at 0', async () => {
    await start();
    for (const limit of ['fileSize', 'documents', 'mapKeys', 'depth', 'entries', 'symlinkDepth', 'symlinkCycle', 'symlinkOutside', 'parseTime', 'parserHeap', 'scanTime']) {
      assert.equal(await limitCount(limit), 0, limit);
    }
  });

  it('holds every kind incomplete while a file broken at start has never been read, then completes once it reads', async () => {
    await writeFile(join(dir, 'good.yaml'), policy('allow-dns'));
    await writeFile(join(dir, 'policies.yaml'), `${policy('p1')}---\n${policy('p2')}\n bad: indent\n`);
    const ds = await start();
    assert.deepEqual(policies.names(), ['allow-dns'], 'what reads is served');
    assert.equal(policies.lastConnection(), 'incomplete', 'a brand-new subscriber is never told complete');
    assert.equal(pods.lastConnection(), 'incomplete', 'every kind is held: a broken file may declare any kind');
    assert.match(ds.syncBlockers()[0]?.source ?? '', /policies\.yaml:\d+$/);

    await writeFile(join(dir, 'policies.yaml'), `${policy('p1')}---\n${policy('p2')}`);
    await eventually(() => policies.lastConnection() === 'up', 'complete after the fix');
    assert.deepEqual(policies.names(), ['allow-dns', 'p1', 'p2']);
    assert.deepEqual(ds.syncBlockers(), []);
  });

  it('keeps a file\'s objects for any error in it: a kind typo, no apiVersion, a numeric label, a missing name', async () => {
    await writeFile(join(dir, 'a.yaml'), `${pod('p1')}---\n${pod('p2')}`);
    const ds = await start();
    const broken = [
      `${pod('p1')}---\n${pod('p2').replace('kind: Pod', 'kind: Pdo')}`,
      `${pod('p1')}---\n${pod('p2').replace('apiVersion: v1\n', '')}`,
      `${pod('p1')}---\n${pod('p2').replace('labels: {}', 'labels: {app: 1}')}`,
      `${pod('p1')}---\n${pod('p2').replace('  name: p2\n', '')}`,
    ];
    for (const [i, text] of broken.entries()) {
      await writeFile(join(dir, 'a.yaml'), text);
      await eventually(() => ds.problems().some((p) => p.line === 10), `problem ${i} reported with its line`);
      await writeFile(join(dir, 'barrier.yaml'), policy(`barrier-${i}`));
      await eventually(() => policies.names().includes(`barrier-${i}`), `barrier ${i}`);
      assert.deepEqual(pods.names(), ['ns/p1', 'ns/p2'], `case ${i}: nothing deleted`);
      assert.equal(pods.lastConnection(), 'up', 'a file read before in this process does not hold the syncers');
    }
    await writeFile(join(dir, 'a.yaml'), pod('p1', { fixed: 'yes' }));
    await eventually(() => pods.names().length === 1, 'the fixed file applies, p2 deleted by the edit itself');
    assert.deepEqual(pods.state.get('ns/p1')?.metadata.labels, { fixed: 'yes' });
    assert.deepEqual(ds.problems(), []);
  });

  it('reports a kind typo in a Calico group as a problem instead of ignoring the document', async () => {
    await writeFile(join(dir, 'policy.yaml'), policy('allow-dns'));
    const ds = await start();
    await writeFile(join(dir, 'policy.yaml'), policy('allow-dns').replace('kind: GlobalNetworkPolicy', 'kind: GlobalNetworkPolicyy'));
    await eventually(() => ds.problems().length === 1, 'the typo is reported');
    assert.match(ds.problems()[0]?.reason ?? '', /no kind GlobalNetworkPolicyy in projectcalico\.org\/v3/);
    assert.deepEqual(policies.names(), ['allow-dns'], 'the policy stays');
  });

  it('treats a FIFO in place of a manifest as unreadable, keeping its objects', async () => {
    await writeFile(join(dir, 'a.yaml'), pod('p1'));
    const ds = await start();
    await rm(join(dir, 'a.yaml'));
    execFileSync('mkfifo', [join(dir, 'a.yaml')]);
    await eventually(() => ds.problems().some((p) => /not a regular file/.test(p.reason)), 'FIFO reported');
    assert.deepEqual(pods.names(), ['ns/p1']);
    assert.equal(pods.count('changed'), 0);
  });

  it('treats a subdirectory that cannot be listed as broken, never as removed', async () => {
    await mkdir(join(dir, 'team'));
    await writeFile(join(dir, 'team', 'a.yaml'), pod('p1'));
    let failing = false;
    const fileSystem: ScanFileSystem = {
      readdir: async (path) => {
        if (failing && path === join(dir, 'team')) throw Object.assign(new Error(`EACCES: permission denied, scandir '${path}'`), { code: 'EACCES' });
        return (await import('node:fs/promises')).readdir(path, { withFileTypes: true });
      },
      stat: async (path) => (await import('node:fs/promises')).stat(path),
      realpath: async (path) => (await import('node:fs/promises')).realpath(path),
    };
    const ds = await start({ fileSystem });
    assert.deepEqual(pods.names(), ['ns/p1']);
    failing = true;
    await ds.rescan();
    assert.deepEqual(pods.names(), ['ns/p1'], 'its objects stay');
    assert.equal(pods.count('changed'), 0);
    assert.match(ds.problems()[0]?.reason ?? '', /cannot read directory: EACCES/);
    assert.deepEqual(ds.syncBlockers(), [], 'it was read before in this process: its last good objects are current');

    // The same directory unreadable at start: nothing is known about it, so the syncers hold.
    await ds.close();
    pods = new RecordingListener();
    registry = new Registry();
    const restarted = await start({ fileSystem });
    assert.equal(pods.lastConnection(), 'incomplete');
    assert.match(restarted.syncBlockers()[0]?.source ?? '', /team$/);
    failing = false;
    await restarted.rescan();
    assert.equal(pods.lastConnection(), 'up');
    assert.deepEqual(pods.names(), ['ns/p1']);
  });

  it('finishes a scan of a tree with two `x -> .` links, names both as cycles, and holds until they go', async () => {
    await writeFile(join(dir, 'a.yaml'), pod('p1'));
    await symlink('.', join(dir, 'x'));
    await mkdir(join(dir, 'sub'));
    await symlink('..', join(dir, 'sub', 'y'));
    const ds = await start();
    assert.deepEqual(pods.names(), ['ns/p1']);
    assert.deepEqual(ds.syncBlockers().map((b) => b.source).sort(), [join(dir, 'sub', 'y'), join(dir, 'x')]);
    assert.equal(await limitCount('symlinkCycle'), 2);
    assert.equal(pods.lastConnection(), 'incomplete');
    await rm(join(dir, 'x'));
    await rm(join(dir, 'sub', 'y'));
    await ds.rescan();
    assert.equal(pods.lastConnection(), 'up');
  });

  it('refuses a link that leaves the directory, and follows one that stays inside', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'cattail-outside-'));
    try {
      await writeFile(join(outside, 'b.yaml'), pod('outside'));
      await mkdir(join(dir, 'real'));
      await writeFile(join(dir, 'real', 'a.yaml'), pod('inside'));
      await symlink(join(dir, 'real'), join(dir, 'linked'));
      await symlink(join(outside, 'b.yaml'), join(dir, 'b.yaml'));
      const ds = await start();
      assert.deepEqual(pods.names(), ['ns/inside'], 'one object, read through both paths (a duplicate, not two)');
      assert.match(ds.syncBlockers().find((b) => b.source === join(dir, 'b.yaml'))?.reason ?? '', /leaves the manifest directory/);
      assert.equal(await limitCount('symlinkOutside'), 1);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('stops at the symlink depth limit', async () => {
    await mkdir(join(dir, 'd0'));
    await writeFile(join(dir, 'd0', 'a.yaml'), pod('p1'));
    await mkdir(join(dir, 'links'));
    await symlink(join(dir, 'd0'), join(dir, 'links', 'l1'));
    await symlink(join(dir, 'links'), join(dir, 'hop'));
    const ds = await start({ limits: { maxSymlinkDepth: 1 } });
    assert.ok(ds.syncBlockers().some((b) => b.source === join(dir, 'hop', 'l1') && /more than 1 symlinked/.test(b.reason)));
    assert.equal(await limitCount('symlinkDepth'), 1);
  });

  it('marks a 200 MB file broken without reading it, and keeps what it declared before', async () => {
    await writeFile(join(dir, 'big.yaml'), pod('p1'));
    const ds = await start();
    const handle = await open(join(dir, 'big.yaml'), 'r+');
    await handle.truncate(200 * 1024 * 1024); // sparse: the test costs no disk or time
    await handle.close();
    await eventually(() => ds.problems().some((p) => p.limit === 'fileSize'), 'size limit hit');
    assert.deepEqual(pods.names(), ['ns/p1']);
    assert.equal(await limitCount('fileSize'), 1);
  });

  it('stops a file of a million tiny documents at the document limit', async () => {
    await writeFile(join(dir, 'many.yaml'), 'a: 1\n---\n'.repeat(1_000_000));
    const before = process.memoryUsage().rss;
    const ds = await start();
    assert.equal(ds.syncBlockers()[0]?.reason, 'more than 10000 documents (List items count one each)');
    assert.equal(await limitCount('documents'), 1);
    assert.ok(process.memoryUsage().rss - before < 512 * 1024 * 1024, 'memory stays bounded');
  });

  it('marks a map over the key limit and a document over the depth limit broken', async () => {
    const keys = Array.from({ length: 101 }, (_, i) => `  k${i}: v`).join('\n');
    await writeFile(join(dir, 'keys.yaml'), `apiVersion: v1\nkind: Pod\nmetadata:\n  name: k\n  annotations:\n${keys}\n`);
    await writeFile(join(dir, 'deep.yaml'), `apiVersion: v1\nkind: Pod\nmetadata: {name: d}\nspec: ${'['.repeat(40)}${']'.repeat(40)}\n`);
    const ds = await start({ limits: { maxMapKeys: 100, maxDepth: 32 } });
    const limits = ds.problems().map((p) => p.limit).sort();
    assert.deepEqual(limits, ['depth', 'mapKeys']);
    assert.deepEqual(pods.names(), []);
  });

  it('counts a document nested deeper than the parser can follow (a flow sequence 200,000 deep) as a depth limit, with the limit in its reason', async () => {
    await writeFile(join(dir, 'deep.yaml'), `apiVersion: v1\nkind: Pod\nmetadata: {name: d, namespace: ns}\nspec: ${'['.repeat(200_000)}${']'.repeat(200_000)}\n`);
    await writeFile(join(dir, 'ok.yaml'), pod('ok'));
    const ds = await start();
    assert.deepEqual(pods.names(), ['ns/ok']);
    assert.deepEqual(ds.problems().map((p) => [p.limit, p.reason]), [['depth', 'nesting deeper than the parser can follow (limit 64)']]);
    assert.equal(await limitCount('depth'), 1);
  });

  it('reads YAML 1.1 tags (!!set, !!omap, !!timestamp, !!binary) as the JSON a manifest carries, so tagged labels are an error, never silently none', async () => {
    await writeFile(join(dir, 'set.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: s\n  namespace: ns\n  labels: !!set {app, tier}\n');
    await writeFile(join(dir, 'omap.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: o\n  namespace: ns\n  annotations: !!omap [a: b]\n');
    await writeFile(join(dir, 'tagged.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n  namespace: ns\n  creationTimestamp: !!timestamp 2001-12-14t21:59:43.10-05:00\n  labels: {k: !!binary aGVsbG8=}\n');
    const ds = await start();
    assert.deepEqual(ds.problems().map((p) => p.reason).sort(), [
      'Pod o: metadata.annotations must be a map',
      'Pod s: metadata.labels.app must be a string (quote it)',
    ]);
    assert.deepEqual(pods.names(), ['ns/t']);
    const tagged = pods.state.get('ns/t');
    assert.equal(tagged?.metadata.creationTimestamp, '2001-12-14t21:59:43.10-05:00');
    assert.deepEqual(tagged?.metadata.labels, { k: 'aGVsbG8=' });
  });

  it('a parser killed by its heap limit makes the file broken and the next file still parses', async () => {
    // A 3 MB block scalar repeated by aliases is cheap on disk and costly in the parser's heap.
    const line = 'x'.repeat(1000);
    await writeFile(join(dir, 'a-heavy.yaml'), `apiVersion: v1\nkind: Pod\nmetadata:\n  name: heavy\n  annotations:\n${Array.from({ length: 12_000 }, (_, i) => `    k${i}: "${line}"`).join('\n')}\n`);
    await writeFile(join(dir, 'b-light.yaml'), pod('light'));
    const ds = await start({ limits: { parserHeapBytes: 16 * 1024 * 1024, maxMapKeys: 100_000 } });
    assert.deepEqual(pods.names(), ['ns/light']);
    assert.ok(ds.syncBlockers().some((b) => b.source === join(dir, 'a-heavy.yaml') && /heap/.test(b.reason)), JSON.stringify(ds.syncBlockers()));
    assert.equal(await limitCount('parserHeap'), 1);
  });

  it('changes nothing and holds every kind when the tree has more entries than allowed', async () => {
    await writeFile(join(dir, 'a.yaml'), pod('p1'));
    const ds = await start({ limits: { maxEntries: 3 } });
    assert.equal(pods.lastConnection(), 'up');
    for (let i = 0; i < 5; i += 1) await writeFile(join(dir, `extra-${i}.yaml`), pod(`extra-${i}`));
    await rm(join(dir, 'a.yaml'));
    await ds.rescan();
    assert.deepEqual(pods.names(), ['ns/p1'], 'an incomplete walk deletes nothing');
    assert.equal(pods.lastConnection(), 'incomplete');
    assert.match(ds.syncBlockers()[0]?.reason ?? '', /more than 3 entries/);
    assert.equal(await limitCount('entries'), 1);
  });

  it('marks every kind stale while a scan is overdue, and complete once it finishes', async () => {
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const fs = await import('node:fs/promises');
    const fileSystem: ScanFileSystem = {
      // The first listing of `slow` hangs until released, as on a stuck network filesystem.
      readdir: async (path) => {
        if (path === join(dir, 'slow')) await gate;
        return fs.readdir(path, { withFileTypes: true });
      },
      stat: (path) => fs.stat(path),
      realpath: (path) => fs.realpath(path),
    };
    await writeFile(join(dir, 'a.yaml'), pod('p1'));
    const ds = await start({ fileSystem, limits: { scanTimeoutMs: 200 } });
    // On a busy machine the first scan (which starts the parser worker) may itself pass 200 ms.
    await eventually(() => pods.lastConnection() === 'up', 'first scan done');
    const overdueBefore = await limitCount('scanTime');
    await mkdir(join(dir, 'slow'));
    const scan = ds.rescan();
    try {
      await eventually(() => pods.lastConnection() === 'incomplete', 'stale while the scan hangs');
    } finally {
      release(); // never leave the scan (and so close()) hanging, whatever failed
    }
    await scan;
    assert.equal(await limitCount('scanTime'), overdueBefore + 1);
    assert.equal(pods.lastConnection(), 'up');
  });

  it('sees every one of several consecutive editor saves (temp file renamed over), and a vim-style backup rename', async () => {
    await writeFile(join(dir, 'a.yaml'), pod('p1', { save: '0' }));
    await start();
    for (let n = 1; n <= 5; n += 1) {
      await writeFile(join(dir, '.a.yaml.tmp'), pod('p1', { save: String(n) }));
      await rename(join(dir, '.a.yaml.tmp'), join(dir, 'a.yaml'));
      // Well inside the 30 s periodic rescan (disabled here altogether): only a watch event finds it.
      await eventually(() => pods.state.get('ns/p1')?.metadata.labels?.save === String(n), `save ${n} seen`, 10_000);
    }
    for (let n = 6; n <= 8; n += 1) {
      // vim with `backupcopy=no`: move the original aside, write a new file, remove the backup.
      await rename(join(dir, 'a.yaml'), join(dir, 'a.yaml~'));
      await writeFile(join(dir, 'a.yaml'), pod('p1', { save: String(n) }));
      await rm(join(dir, 'a.yaml~'));
      await eventually(() => pods.state.get('ns/p1')?.metadata.labels?.save === String(n), `vim save ${n} seen`, 10_000);
    }
    assert.equal(pods.calls.filter((c) => c.call === 'changed' && c.type === 'delete').length, 0, 'a save never deletes');
  });

  it('sees saves in a subdirectory and in a ConfigMap-style `..data` swap', async () => {
    await mkdir(join(dir, '..v1'));
    await writeFile(join(dir, '..v1', 'a.yaml'), pod('p1', { v: '1' }));
    await symlink('..v1', join(dir, '..data'));
    await symlink(join('..data', 'a.yaml'), join(dir, 'a.yaml'));
    await start();
    assert.equal(pods.state.get('ns/p1')?.metadata.labels?.v, '1');
    await mkdir(join(dir, '..v2'));
    await copyFile(join(dir, '..v1', 'a.yaml'), join(dir, '..v2', 'a.yaml'));
    await writeFile(join(dir, '..v2', 'a.yaml'), pod('p1', { v: '2' }));
    await symlink('..v2', join(dir, '..data.tmp'));
    await rename(join(dir, '..data.tmp'), join(dir, '..data'));
    await eventually(() => pods.state.get('ns/p1')?.metadata.labels?.v === '2', 'the swap is seen', 10_000);
  });

  it('sends a first listing larger than one slice as a partial listing plus upserts, held incomplete until the last', async () => {
    await writeFile(join(dir, 'pods.yaml'), Array.from({ length: 250 }, (_, i) => pod(`p${i}`)).join('---\n'));
    const ds = await start();
    const trace = pods.calls.map((c) => (c.call === 'connection' ? c.state : c.call === 'replaced' ? `replaced ${c.objects.length}` : c.type));
    assert.equal(trace[0], 'incomplete', 'held before anything is listed');
    assert.equal(trace[1], 'replaced 100');
    assert.deepEqual(trace.slice(2, -1), Array.from({ length: 150 }, () => 'upsert'));
    assert.equal(trace.at(-1), 'up', 'complete only after the last object');
    assert.equal(pods.names().length, 250);

    // A subscriber arriving now gets everything, and is never told incomplete.
    const late = new RecordingListener();
    ds.subscribe(KINDS.pods, late);
    assert.deepEqual(late.calls.map((c) => c.call === 'connection' ? c.state : c.call), ['replaced', 'up']);
    assert.equal(late.names().length, 250);
  });

  it('gives a subscriber that arrives while the datastore is incomplete the hold before the listing', async () => {
    await writeFile(join(dir, 'bad.yaml'), 'a: [\n');
    const ds = await start();
    const late = new RecordingListener();
    ds.subscribe(KINDS.pods, late);
    assert.deepEqual(late.calls.map((c) => c.call === 'connection' ? c.state : c.call), ['incomplete', 'replaced']);
  });

  it('a parse over its timeout makes the file broken, and a fresh parser reads the next file', async () => {
    // 150,000 tiny pods: about 8 s of parsing here, far beyond a 1.5 s bound.
    const many = Array.from({ length: 150_000 }, (_, i) => `apiVersion: v1\nkind: Pod\nmetadata: {name: p${i}, namespace: ns}\n`).join('---\n');
    await writeFile(join(dir, 'a-slow.yaml'), many);
    await writeFile(join(dir, 'b-small.yaml'), pod('small'));
    const ds = await start({ limits: { parseTimeoutMs: 1500, maxDocuments: 200_000 } });
    assert.deepEqual(pods.names(), ['ns/small']);
    assert.ok(ds.syncBlockers().some((b) => b.source === join(dir, 'a-slow.yaml') && /longer than 1500 ms/.test(b.reason)), JSON.stringify(ds.syncBlockers()));
    assert.equal(await limitCount('parseTime'), 1);
  });

  it('closes even while a scan is stuck in file-system I/O', async () => {
    const fs = await import('node:fs/promises');
    const fileSystem: ScanFileSystem = {
      readdir: async (path) => (path === join(dir, 'stuck') ? new Promise<never>(() => {}) : fs.readdir(path, { withFileTypes: true })),
      stat: (path) => fs.stat(path),
      realpath: (path) => fs.realpath(path),
    };
    const ds = await start({ fileSystem });
    await mkdir(join(dir, 'stuck'));
    void ds.rescan();
    await eventually(() => pods.lastConnection() === 'up', 'started');
    const began = Date.now();
    await ds.close();
    assert.ok(Date.now() - began < 30_000, 'close returned');
    datastore = undefined;
  });

  it('lists at most 20 blockers and counts the rest, so readiness stays small', async () => {
    for (let i = 0; i < 30; i += 1) await writeFile(join(dir, `bad-${String(i).padStart(2, '0')}.yaml`), 'a: [\n');
    const ds = await start();
    const blockers = ds.syncBlockers();
    assert.equal(blockers.length, 21);
    assert.equal(blockers.at(-1)?.reason, 'and 10 more broken paths');
    const gauge = (await registry.getMetricsAsJSON()).find((m) => m.name === 'cattail_file_blockers');
    assert.equal(gauge?.values[0]?.value, 30);
  });

  it('re-reads a broken file on the periodic rescan even when its stat signature never changed', async () => {
    // A file whose read failed for a passing reason, or whose fix a coarse-timestamp network
    // filesystem does not show in stat, must not hold the syncers until someone edits it.
    // The file is written through a hard link outside the directory, so no watch event names it
    // (inotify reports changes made through the watched directory's own entries).
    const outside = await mkdtemp(join(tmpdir(), 'cattail-outside-'));
    const source = join(outside, 'policies.yaml');
    await writeFile(source, `${policy('p1')}  types: [Ingress\n`);
    await link(source, join(dir, 'policies.yaml'));
    const { stat: realStat, readdir, realpath } = await import('node:fs/promises');
    const frozen = new Map<string, Stats>();
    const fileSystem: ScanFileSystem = {
      readdir: (path) => readdir(path, { withFileTypes: true }),
      // Every path reports the signature it had on its first stat: the fix below stays invisible.
      stat: async (path) => {
        const known = frozen.get(path);
        if (known) return known;
        const st = await realStat(path);
        frozen.set(path, st);
        return st;
      },
      realpath: (path) => realpath(path),
    };
    const ds = await start({ fileSystem });
    assert.equal(policies.lastConnection(), 'incomplete');
    assert.match(ds.syncBlockers()[0]?.source ?? '', /policies\.yaml/);
    await writeFile(source, policy('p1'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await ds.rescan();
    await rm(outside, { recursive: true, force: true });
    assert.deepEqual(policies.names(), ['p1']);
    assert.equal(policies.lastConnection(), 'up');
    assert.deepEqual(ds.syncBlockers(), []);
  });
});
