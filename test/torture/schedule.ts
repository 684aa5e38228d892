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
  /** Close the server and start a new one (new port; clients follow through their proxies). */
  | { readonly op: 'restartServer'; readonly downMs: number };

export interface Schedule {
  readonly seed: number;
  /** Pause after every step, so the server and clients interleave with the schedule. */
  readonly gapMs: number;
  readonly clients: readonly string[];
  readonly steps: readonly Step[];
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
  const clients = [...DEFAULT_CLIENTS];
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
      steps.push({ op: 'restartServer', downMs: rng.int(0, 300) });
      continue;
    }
    const kind = rng.weighted([
      [30, 'datastore'], [8, 'burst'], [16, 'wait'], [3, 'dropWatches'], [2, 'expireWatches'], [2, 'compact'], [2, 'failNext'],
      [2, 'outage'], [1, 'stall'], [3, 'disconnect'], [2, 'partition'], [3, 'pauseHost'], [2, 'pauseSocket'],
      [1, 'restartClient'], [2, 'limit'],
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
    }
  }
  return { seed, gapMs: options.gapMs ?? 30, clients, steps };
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
    default: return JSON.stringify(step);
  }
}
