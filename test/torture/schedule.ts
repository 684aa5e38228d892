/**
 * Torture schedules: plain JSON step lists, generated from a seed. Every step is meaningful in
 * any subsequence of a schedule (an update of a missing object creates it, a delete or rename of
 * a missing object does nothing), which is what lets a failing schedule be shrunk step by step.
 */
import { ALL_KINDS, kindById } from '../../src/datastore/kinds.ts';
import type { RawObject } from '../../src/datastore/types.ts';
import { kindOf, loadTemplates, objectId, vary } from './objects.ts';
import { Prng } from './prng.ts';

export interface ObjectRefStep {
  /** Kind id, e.g. `pods` or `ippools.crd.projectcalico.org`. */
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
}

/** Steps that only touch the datastore (allowed inside a burst). */
export type DatastoreStep =
  | { readonly op: 'apply'; readonly obj: RawObject }
  | ({ readonly op: 'delete' } & ObjectRefStep)
  | ({ readonly op: 'rename'; readonly to: string } & ObjectRefStep);

export type Step =
  | DatastoreStep
  /** Datastore steps written back to back without yielding. */
  | { readonly op: 'burst'; readonly steps: readonly DatastoreStep[] }
  | { readonly op: 'wait'; readonly ms: number }
  | { readonly op: 'dropWatches'; readonly abrupt: boolean }
  /** ERROR 410 into every open watch. */
  | { readonly op: 'expireWatches' }
  /** Forget history: the next re-watch from an old revision gets 410. */
  | { readonly op: 'compact' }
  | { readonly op: 'failNext'; readonly n: number; readonly status: number; readonly verb: 'list' | 'watch' }
  /** API server down for `ms` (in the background). */
  | { readonly op: 'outage'; readonly ms: number; readonly mode: 'refuse' | 'reset' }
  /** Watches go silent (half-open) for `ms`; they stay dead until the idle watchdog notices. */
  | { readonly op: 'stall'; readonly ms: number }
  | { readonly op: 'disconnect'; readonly client: number }
  /** Cut the client and refuse its reconnects for `ms`. */
  | { readonly op: 'partition'; readonly client: number; readonly ms: number }
  /** The host's handler does not return for `ms` (a slow agent). */
  | { readonly op: 'pauseHost'; readonly client: number; readonly ms: number }
  /** The client's socket is not read for `ms` (a slow reader, as the server sees it). */
  | { readonly op: 'pauseSocket'; readonly client: number; readonly ms: number }
  /** The agent restarts: its SyncClient is closed and a new one starts from nothing. */
  | { readonly op: 'restartClient'; readonly client: number }
  /** Connection limit lowered to `max` for `ms`, then raised again. */
  | { readonly op: 'limit'; readonly max: number; readonly ms: number }
  /** Close a replica gracefully and start a new one (new port and instance id; clients follow through their proxies). */
  | { readonly op: 'restartServer'; readonly downMs: number; readonly replica?: number }
  /**
   * SIGKILL-like: every connection to the replica is cut with no close frame, its new
   * connections are refused, it stops, and a new instance starts `downMs` later (in the
   * background: the schedule goes on meanwhile).
   */
  | { readonly op: 'killReplica'; readonly replica: number; readonly downMs: number }
  /** The client's current replica refuses it for `ms`, so it moves to another one (if it lists one). */
  | { readonly op: 'switchReplica'; readonly client: number; readonly ms: number }
  /** Every client cut at once while a burst is written: catch-up (resume, digests) races the churn. */
  | { readonly op: 'churnReconnect'; readonly steps: readonly DatastoreStep[] }
  /** One replica loses its datastore for `ms` (it goes stale; clients that leave stale replicas move). */
  | { readonly op: 'isolateReplica'; readonly replica: number; readonly ms: number };

/**
 * One torture client. `catchUp`: it offers resume and digests (the TypeScript client's default)
 * or not (`catchUp: false`, a client of before issue 13). `servers`: the replicas in its server
 * list, in its order of preference (one entry: pinned to that replica).
 */
export interface ClientSpec {
  readonly syncerType: string;
  readonly catchUp: boolean;
  readonly servers: readonly number[];
}

export interface Schedule {
  readonly seed: number;
  /** Pause after every step, so the server and clients interleave with the schedule. */
  readonly gapMs: number;
  /** A bare syncer type (the format before issue 13) is a catch-up client pinned to replica 0. */
  readonly clients: readonly (string | ClientSpec)[];
  /** Server replicas over the one datastore. Default 1. */
  readonly replicas?: number;
  /** Extra server flags for every replica (e.g. a tiny resume retention). */
  readonly serverFlags?: readonly string[];
  readonly steps: readonly Step[];
}

/** A schedule's client entry in its full form. */
export function clientSpec(entry: string | ClientSpec): ClientSpec {
  return typeof entry === 'string' ? { syncerType: entry, catchUp: true, servers: [0] } : entry;
}

export interface GenerateOptions {
  /** Number of top-level steps. */
  readonly steps?: number;
  /** Default 30. */
  readonly gapMs?: number;
}

/** Syncer types of the torture clients: two felix agents and one of each other type. */
export const DEFAULT_CLIENTS = ['felix', 'felix', 'bgp', 'tunnel-ip-allocation', 'node-status'] as const;

/** A schedule that is a pure function of `seed`. */
export function generateSchedule(seed: number, options: GenerateOptions = {}): Schedule {
  const rng = new Prng(seed);
  const templates = loadTemplates();
  const live = new Map<string, RawObject>();
  for (const list of templates.values()) for (const t of list) live.set(objectId(kindOf(t), t), t);
  const replicas = rng.weighted([[1, 1], [2, 2], [5, 3]] as const);
  const clients: ClientSpec[] = DEFAULT_CLIENTS.map((syncerType, i) => {
    const home = i % replicas;
    // Pinned clients reconnect to the same replica (resume); the others walk the list (digests).
    const pinned = replicas === 1 || rng.chance(0.35);
    const servers = pinned ? [home] : Array.from({ length: replicas }, (_, k) => (home + k) % replicas);
    return { syncerType, catchUp: rng.chance(0.75), servers };
  });
  const serverFlags = retentionFlags(rng);
  const total = options.steps ?? 40;
  const restartAt = rng.chance(0.7) ? rng.int(Math.floor(total / 4), total - 1) : -1;
  const steps: Step[] = [];

  const datastoreStep = (): DatastoreStep => {
    const info = rng.pick(ALL_KINDS);
    const existing = [...live.values()].filter((o) => kindOf(o).id === info.id);
    const what = existing.length === 0 ? 'create' : rng.weighted([[4, 'create'], [4, 'update'], [2, 'delete'], [1, 'rename']] as const);
    if (what === 'create' || what === 'update') {
      const base = what === 'update' ? rng.pick(existing) : rng.pick(templates.get(info.id)!);
      const obj = vary(rng, info, base);
      if (what === 'update') {
        obj.metadata.name = base.metadata.name;
        if (info.namespaced) obj.metadata.namespace = base.metadata.namespace;
      }
      live.set(objectId(info, obj), obj);
      return { op: 'apply', obj };
    }
    const victim = rng.pick(existing);
    const ref = { kind: info.id, name: victim.metadata.name, ...(info.namespaced ? { namespace: victim.metadata.namespace ?? 'default' } : {}) };
    live.delete(objectId(info, victim));
    if (what === 'delete') return { op: 'delete', ...ref };
    const to = `${victim.metadata.name.slice(0, 50)}-r${rng.int(0, 9)}`;
    live.set(objectId(info, { metadata: { ...victim.metadata, name: to } }), { ...victim, metadata: { ...victim.metadata, name: to } });
    return { op: 'rename', ...ref, to };
  };

  const client = (): number => rng.int(0, clients.length - 1);
  for (let i = 0; i < total; i++) {
    if (i === restartAt) {
      steps.push({ op: 'restartServer', downMs: rng.int(0, 300), replica: rng.int(0, replicas - 1) });
      continue;
    }
    const kind = rng.weighted([
      [30, 'datastore'], [8, 'burst'], [16, 'wait'], [3, 'dropWatches'], [2, 'expireWatches'], [2, 'compact'], [2, 'failNext'],
      [2, 'outage'], [1, 'stall'], [3, 'disconnect'], [2, 'partition'], [3, 'pauseHost'], [2, 'pauseSocket'],
      [1, 'restartClient'], [2, 'limit'],
      [replicas > 1 ? 2 : 1, 'killReplica'], [replicas > 1 ? 3 : 0, 'switchReplica'], [2, 'churnReconnect'], [replicas > 1 ? 1 : 0, 'isolateReplica'],
    ] as const);
    switch (kind) {
      case 'datastore': steps.push(datastoreStep()); break;
      case 'burst': steps.push({ op: 'burst', steps: Array.from({ length: rng.int(5, 40) }, datastoreStep) }); break;
      case 'wait': steps.push({ op: 'wait', ms: rng.int(10, 300) }); break;
      case 'dropWatches': steps.push({ op: 'dropWatches', abrupt: rng.chance(0.5) }); break;
      case 'expireWatches': steps.push({ op: 'expireWatches' }); break;
      case 'compact': steps.push({ op: 'compact' }); break;
      case 'failNext': steps.push({ op: 'failNext', n: rng.int(1, 4), status: rng.pick([429, 500, 503, 504]), verb: rng.pick(['list', 'watch'] as const) }); break;
      case 'outage': steps.push({ op: 'outage', ms: rng.int(100, 2500), mode: rng.pick(['refuse', 'reset'] as const) }); break;
      case 'stall': steps.push({ op: 'stall', ms: rng.int(100, 1000) }); break;
      case 'disconnect': steps.push({ op: 'disconnect', client: client() }); break;
      case 'partition': steps.push({ op: 'partition', client: client(), ms: rng.int(100, 1500) }); break;
      case 'pauseHost': steps.push({ op: 'pauseHost', client: client(), ms: rng.int(50, 2000) }); break;
      case 'pauseSocket': steps.push({ op: 'pauseSocket', client: client(), ms: rng.int(50, 2500) }); break;
      case 'restartClient': steps.push({ op: 'restartClient', client: client() }); break;
      case 'limit': steps.push({ op: 'limit', max: rng.int(1, clients.length - 1), ms: rng.int(200, 1500) }); break;
      case 'killReplica': steps.push({ op: 'killReplica', replica: rng.int(0, replicas - 1), downMs: rng.int(0, 1500) }); break;
      case 'switchReplica': steps.push({ op: 'switchReplica', client: client(), ms: rng.int(100, 1000) }); break;
      case 'churnReconnect': steps.push({ op: 'churnReconnect', steps: Array.from({ length: rng.int(3, 30) }, datastoreStep) }); break;
      case 'isolateReplica': steps.push({ op: 'isolateReplica', replica: rng.int(0, replicas - 1), ms: rng.int(500, 5000) }); break;
    }
  }
  return { seed, gapMs: options.gapMs ?? 30, clients, replicas, ...(serverFlags.length > 0 ? { serverFlags } : {}), steps };
}

/**
 * Resume retention for a seed: the default (most seeds), or tiny, so that breadcrumbs expire
 * while clients are away or mid-resume; now and then resume or digests off altogether.
 */
function retentionFlags(rng: Prng): string[] {
  const which = rng.weighted([[6, 'default'], [3, 'tiny'], [1, 'no-resume'], [1, 'no-digest']] as const);
  if (which === 'tiny') return ['--resume-retention-ms', String(rng.int(20, 600)), '--resume-retention-bytes', String(rng.pick([300, 2000, 20_000, 32 * 1024 * 1024]))];
  if (which === 'no-resume') return ['--resume-retention-bytes', '0'];
  if (which === 'no-digest') return ['--digest-catchup', 'false'];
  return [];
}

/** The kind a reference step names. */
export function refKind(step: ObjectRefStep) {
  const info = kindById(step.kind);
  if (info === undefined) throw new Error(`unknown kind id ${step.kind}`);
  return info;
}

/** One line per step, for failure reports. */
export function describeStep(step: Step): string {
  switch (step.op) {
    case 'apply': return `apply ${step.obj.kind} ${step.obj.metadata.namespace ? `${step.obj.metadata.namespace}/` : ''}${step.obj.metadata.name}`;
    case 'delete': return `delete ${step.kind} ${step.namespace ? `${step.namespace}/` : ''}${step.name}`;
    case 'rename': return `rename ${step.kind} ${step.namespace ? `${step.namespace}/` : ''}${step.name} → ${step.to}`;
    case 'burst': return `burst of ${step.steps.length}`;
    case 'churnReconnect': return `every client cut during a burst of ${step.steps.length}`;
    default: return JSON.stringify(step);
  }
}
