import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FileDatastore } from '../../src/datastore/file/index.ts';
import { KINDS, type KindInfo } from '../../src/datastore/kinds.ts';
import type { KindListener, RawObject } from '../../src/datastore/types.ts';
import { silentLogger } from '../../src/logger.ts';
import { eventually } from '../support/eventually.ts';

type Event =
  | { kind: string; type: 'replaced'; objects: readonly RawObject[]; revision: string }
  | { kind: string; type: 'upsert' | 'delete'; object: RawObject; revision: string }
  | { kind: string; type: 'up' | 'down' | 'incomplete'; error?: Error };

/** Records every event of every subscribed kind, in arrival order. */
class Recorder {
  readonly events: Event[] = [];

  listener(kind: KindInfo): KindListener {
    return {
      replaced: (objects, revision) => this.events.push({ kind: kind.id, type: 'replaced', objects, revision }),
      changed: (type, object, revision) => this.events.push({ kind: kind.id, type, object, revision }),
      connection: (state, error) => this.events.push({ kind: kind.id, type: state, error }),
    };
  }

  changes(kind?: KindInfo): { kind: string; type: 'upsert' | 'delete'; object: RawObject; revision: string }[] {
    return this.events.flatMap((e) => ((e.type === 'upsert' || e.type === 'delete') && (!kind || e.kind === kind.id) ? [e] : []));
  }

  /** "type namespace/name" of each change after index `from`, for compact assertions. */
  summary(from = 0): string[] {
    return this.changes().slice(from).map((e) => `${e.type} ${e.kind} ${e.object.metadata.namespace ?? ''}/${e.object.metadata.name}`);
  }
}

const pod = (name: string, namespace?: string, labels: Record<string, string> = {}): string =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n${namespace ? `  namespace: ${namespace}\n` : ''}  labels: ${JSON.stringify(labels)}\nspec:\n  nodeName: node-1\n`;
const namespace = (name: string): string => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
const docs = (...parts: string[]): string => parts.join('---\n');

const WATCHED = [KINDS.pods, KINDS.namespaces, KINDS.globalNetworkPolicies, KINDS.nodes];

describe('FileDatastore', () => {
  let dir: string;
  let datastore: FileDatastore | undefined;
  let recorder: Recorder;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cattail-file-'));
    recorder = new Recorder();
  });

  afterEach(async () => {
    await datastore?.close();
    datastore = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function startDatastore(debounceMs = 20): Promise<FileDatastore> {
    datastore = new FileDatastore({ dir, logger: silentLogger(), debounceMs });
    for (const kind of WATCHED) datastore.subscribe(kind, recorder.listener(kind));
    await datastore.start();
    return datastore;
  }

  /** Makes a change nobody else makes, and waits for it: everything written before is then applied. */
  async function barrier(label: string): Promise<void> {
    const before = recorder.changes().length;
    await writeFile(join(dir, `zz-barrier-${label}.yaml`), namespace(`barrier-${label}`));
    await eventually(
      () => recorder.changes().slice(before).some((e) => e.object.metadata.name === `barrier-${label}`),
      `barrier ${label}`,
    );
  }

  function listing(kind: KindInfo): readonly RawObject[] {
    const event = recorder.events.find((e) => e.kind === kind.id && e.type === 'replaced');
    assert.ok(event && event.type === 'replaced', `no listing for ${kind.id}`);
    return event.objects;
  }

  it('lists every subscribed kind once on start, then reports the connection up', async () => {
    await writeFile(join(dir, 'namespaces.yaml'), docs(namespace('frontend'), namespace('backend')));
    await mkdir(join(dir, 'apps'));
    await writeFile(join(dir, 'apps', 'pods.yml'), docs(pod('web', 'frontend'), pod('no-namespace')));
    await writeFile(
      join(dir, 'policy.yaml'),
      'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: allow-dns\n  namespace: ignored\nspec:\n  selector: all()\n',
    );
    await startDatastore();

    assert.deepEqual(listing(KINDS.namespaces).map((o) => o.metadata.name).sort(), ['backend', 'frontend']);
    assert.deepEqual(listing(KINDS.pods).map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort(), ['default/no-namespace', 'frontend/web']);
    const [gnp] = listing(KINDS.globalNetworkPolicies);
    assert.equal(gnp?.metadata.namespace, undefined, 'cluster-scoped kinds drop a namespace');
    assert.equal(gnp?.apiVersion, 'crd.projectcalico.org/v1', 'aliases are served in the primary form');
    assert.deepEqual(listing(KINDS.nodes), []);

    const revisions = WATCHED.flatMap((k) => listing(k).map((o) => Number(o.metadata.resourceVersion)));
    assert.equal(new Set(revisions).size, 5, 'each object has its own revision');
    for (const kind of WATCHED) {
      const mine = recorder.events.filter((e) => e.kind === kind.id).map((e) => e.type);
      assert.deepEqual(mine, ['replaced', 'up']);
    }
    assert.deepEqual(datastore?.problems(), []);
  });

  it('reports created, edited and deleted files as upserts and deletes with increasing revisions', async () => {
    await startDatastore();
    await writeFile(join(dir, 'a.yaml'), docs(pod('p1', 'ns'), pod('p2', 'ns')));
    await eventually(() => recorder.changes().length === 2, 'two upserts for the new file');
    assert.deepEqual(recorder.summary(), ['upsert pods ns/p1', 'upsert pods ns/p2']);

    await writeFile(join(dir, 'a.yaml'), docs(pod('p1', 'ns', { app: 'new' }), pod('p2', 'ns')));
    await eventually(() => recorder.changes().length === 3, 'one upsert for the edited object');
    assert.deepEqual(recorder.summary(2), ['upsert pods ns/p1']);
    assert.deepEqual(recorder.changes()[2]?.object.metadata.labels, { app: 'new' });

    await unlink(join(dir, 'a.yaml'));
    await eventually(() => recorder.changes().length === 5, 'two deletes for the removed file');
    assert.deepEqual(recorder.summary(3), ['delete pods ns/p1', 'delete pods ns/p2']);

    const revisions = recorder.changes().map((e) => Number(e.revision));
    assert.deepEqual(revisions, [...revisions].sort((a, b) => a - b));
    assert.equal(new Set(revisions).size, revisions.length, 'revisions never repeat');
    for (const e of recorder.changes()) assert.equal(e.object.metadata.resourceVersion, e.revision);
  });

  it('watches subdirectories, including ones created after start', async () => {
    await startDatastore();
    await mkdir(join(dir, 'team-a', 'apps'), { recursive: true });
    await writeFile(join(dir, 'team-a', 'apps', 'pods.yaml'), pod('p1', 'ns'));
    await eventually(() => recorder.changes().length === 1, 'upsert from a new subdirectory');
    await writeFile(join(dir, 'team-a', 'apps', 'pods.yaml'), pod('p1', 'ns', { edited: 'yes' }));
    await eventually(() => recorder.changes().length === 2, 'upsert from an edit in the subdirectory');
    await rm(join(dir, 'team-a'), { recursive: true });
    await eventually(() => recorder.changes().length === 3, 'delete when the subdirectory goes');
    assert.deepEqual(recorder.summary(), ['upsert pods ns/p1', 'upsert pods ns/p1', 'delete pods ns/p1']);
  });

  it('treats a rename to another manifest name as no change, and a rename away from .yaml as deletion', async () => {
    await writeFile(join(dir, 'a.yaml'), pod('p1', 'ns'));
    await startDatastore();
    await rename(join(dir, 'a.yaml'), join(dir, 'b.yaml'));
    await barrier('rename');
    assert.deepEqual(recorder.summary(), ['upsert namespaces /barrier-rename']);

    await rename(join(dir, 'b.yaml'), join(dir, 'b.yaml.bak'));
    await eventually(() => recorder.changes().length === 2, 'delete after renaming away');
    assert.deepEqual(recorder.summary(1), ['delete pods ns/p1']);
  });

  it('follows an editor saving by writing a temporary file and renaming it over the original', async () => {
    await writeFile(join(dir, 'a.yaml'), pod('p1', 'ns'));
    await startDatastore();
    await writeFile(join(dir, '.a.yaml.tmp'), pod('p1', 'ns', { saved: 'yes' }));
    await rename(join(dir, '.a.yaml.tmp'), join(dir, 'a.yaml'));
    await eventually(() => recorder.changes().length === 1, 'upsert after rename-over-write');
    assert.deepEqual(recorder.changes()[0]?.object.metadata.labels, { saved: 'yes' });
  });

  it('reports documents added to and removed from a file', async () => {
    await writeFile(join(dir, 'a.yaml'), pod('p1', 'ns'));
    await startDatastore();
    await writeFile(join(dir, 'a.yaml'), docs(pod('p1', 'ns'), pod('p2', 'ns'), namespace('ns')));
    await eventually(() => recorder.changes().length === 2, 'two upserts for added documents');
    assert.deepEqual(recorder.summary(), ['upsert namespaces /ns', 'upsert pods ns/p2']);

    await writeFile(join(dir, 'a.yaml'), docs(pod('p2', 'ns')));
    await eventually(() => recorder.changes().length === 4, 'two deletes for removed documents');
    assert.deepEqual(recorder.summary(2), ['delete namespaces /ns', 'delete pods ns/p1']);
  });

  it('keeps the objects last read from a file with a YAML syntax error and reports its file and line', async () => {
    await writeFile(join(dir, 'a.yaml'), docs(pod('p1', 'ns'), pod('p2', 'ns')));
    const ds = await startDatastore();
    await writeFile(join(dir, 'a.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\n bad: indent\n');
    await eventually(() => ds.problems().length === 1, 'the syntax error is reported');
    const [problem] = ds.problems();
    assert.equal(problem?.file, join(dir, 'a.yaml'));
    assert.equal(problem?.line, 5);
    await barrier('syntax');
    assert.deepEqual(recorder.summary(), ['upsert namespaces /barrier-syntax'], 'nothing was deleted');

    await writeFile(join(dir, 'a.yaml'), pod('p2', 'ns'));
    await eventually(() => recorder.changes().length === 2, 'the fixed file applies');
    assert.deepEqual(recorder.summary(1), ['delete pods ns/p1']);
    assert.deepEqual(ds.problems(), []);
  });

  it('treats a duplicate key inside one map as a parse error of that file', async () => {
    await writeFile(join(dir, 'a.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\n  name: p2\n');
    const ds = await startDatastore();
    assert.deepEqual(listing(KINDS.pods), []);
    assert.deepEqual(ds.problems().map((p) => [p.line, p.reason]), [[5, 'Map keys must be unique']]);
  });

  it('applies nothing from a file with a document that is not a Kubernetes object, names file and line, and holds every kind incomplete', async () => {
    await writeFile(join(dir, 'a.yaml'), docs(pod('p1', 'ns'), '- just\n- a list\n', 'kind: Pod\nmetadata: {name: x}\n', pod('p2', 'ns')));
    const ds = await startDatastore();
    assert.deepEqual(listing(KINDS.pods), [], 'a file is applied all or nothing');
    const problems = ds.problems().map((p) => `${p.file}:${p.line} ${p.reason}`);
    assert.deepEqual(problems, [
      `${join(dir, 'a.yaml')}:10 not a Kubernetes object: the document is a list, not a map`,
      `${join(dir, 'a.yaml')}:13 not a Kubernetes object: apiVersion is missing`,
    ]);
    for (const kind of WATCHED) {
      assert.deepEqual(recorder.events.filter((e) => e.kind === kind.id).map((e) => e.type), ['incomplete', 'replaced']);
    }
    assert.deepEqual(ds.syncBlockers().map((b) => b.source), [`${join(dir, 'a.yaml')}:10`, `${join(dir, 'a.yaml')}:13`]);
  });

  it('ignores kinds it does not read without reporting a problem', async () => {
    await writeFile(join(dir, 'svc.yaml'), docs('apiVersion: v1\nkind: Service\nmetadata: {name: web}\n', pod('p1')));
    const ds = await startDatastore();
    assert.equal(listing(KINDS.pods).length, 1);
    assert.deepEqual(ds.problems(), []);
  });

  it('expands List documents into their items', async () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n${[pod('a', 'ns'), pod('b', 'ns')].map((p) => `- ${p.trimEnd().split('\n').join('\n  ')}\n`).join('')}`;
    await writeFile(join(dir, 'list.yaml'), list);
    const ds = await startDatastore();
    assert.deepEqual(listing(KINDS.pods).map((o) => o.metadata.name).sort(), ['a', 'b']);
    assert.deepEqual(ds.problems(), []);
  });

  it('reports a duplicate object, lets the first file in sorted order win, and promotes the second when the first is deleted', async () => {
    await writeFile(join(dir, 'b.yaml'), pod('p1', 'ns', { from: 'b' }));
    await writeFile(join(dir, 'a.yaml'), pod('p1', 'ns', { from: 'a' }));
    const ds = await startDatastore();
    assert.deepEqual(listing(KINDS.pods).map((o) => o.metadata.labels), [{ from: 'a' }]);
    const [problem] = ds.problems();
    assert.equal(problem?.file, join(dir, 'b.yaml'));
    assert.match(problem?.reason ?? '', /duplicate Pod ns\/p1.*a\.yaml:1/);

    await unlink(join(dir, 'a.yaml'));
    await eventually(() => recorder.changes().length === 1, 'the duplicate takes over');
    const [takeover] = recorder.changes();
    assert.equal(takeover?.type, 'upsert');
    assert.deepEqual(takeover?.object.metadata.labels, { from: 'b' });
    assert.deepEqual(ds.problems(), []);
  });

  it('keeps the first of two identical objects within one file', async () => {
    await writeFile(join(dir, 'a.yaml'), docs(pod('p1', 'ns', { n: '1' }), pod('p1', 'ns', { n: '2' })));
    const ds = await startDatastore();
    assert.deepEqual(listing(KINDS.pods).map((o) => o.metadata.labels), [{ n: '1' }]);
    assert.deepEqual(ds.problems().map((p) => p.line), [10]);
  });

  it('coalesces a burst of rapid writes into one change', async () => {
    await writeFile(join(dir, 'a.yaml'), pod('p1', 'ns', { n: '0' }));
    await startDatastore(300);
    // Synchronous writes: the whole burst takes a few milliseconds, far inside the debounce window.
    for (let n = 1; n <= 10; n += 1) writeFileSync(join(dir, 'a.yaml'), pod('p1', 'ns', { n: String(n) }));
    await eventually(() => recorder.changes().length >= 1, 'the burst is applied');
    await barrier('burst');
    const burst = recorder.changes(KINDS.pods);
    assert.equal(burst.length, 1, 'one upsert for ten writes');
    assert.deepEqual(burst[0]?.object.metadata.labels, { n: '10' });
  });

  it('reports the connection down when the directory disappears, keeps the objects, and recovers', async () => {
    const cluster = join(dir, 'cluster');
    await mkdir(cluster);
    await writeFile(join(cluster, 'a.yaml'), pod('p1', 'ns'));
    datastore = new FileDatastore({ dir: cluster, logger: silentLogger(), debounceMs: 20, retryMs: 50 });
    datastore.subscribe(KINDS.pods, recorder.listener(KINDS.pods));
    await datastore.start();

    await rm(cluster, { recursive: true });
    await eventually(() => recorder.events.some((e) => e.type === 'down'), 'connection down');
    assert.deepEqual(recorder.changes(), [], 'no deletions while the directory is gone');

    // Restored atomically, as a deploy tool would: a half-restored directory would be read as
    // the new truth (correctly), which is not what this test is about.
    const staging = join(dir, 'staging');
    await mkdir(staging);
    await writeFile(join(staging, 'a.yaml'), pod('p1', 'ns', { back: 'yes' }));
    await rename(staging, cluster);
    await eventually(() => recorder.events.filter((e) => e.type === 'up').length === 2, 'connection up again');
    await eventually(() => recorder.changes().length === 1, 'the edit made while away applies');
    assert.deepEqual(recorder.changes()[0]?.object.metadata.labels, { back: 'yes' });
  });

  it('stops reporting after close, and close is idempotent', async () => {
    const ds = await startDatastore();
    await ds.close();
    await ds.close();
    await writeFile(join(dir, 'a.yaml'), pod('p1', 'ns'));
    await ds.rescan();
    assert.deepEqual(recorder.changes(), []);
  });

  it('gives a subscriber that arrives after start the current listing', async () => {
    await writeFile(join(dir, 'a.yaml'), pod('p1', 'ns'));
    const ds = await startDatastore();
    const late = new Recorder();
    ds.subscribe(KINDS.pods, late.listener(KINDS.pods));
    assert.deepEqual(late.events.map((e) => e.type), ['replaced', 'up']);
  });
});
