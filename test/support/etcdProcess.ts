/**
 * A real etcd (Debian's `etcd-server`, installed by the pretest step) for tests: members on
 * 127.0.0.1 with ports picked free at start, data in a temporary directory kept across
 * kill/restart, plain HTTP or HTTPS with client-certificate authentication.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findOnPath } from './systemPackages.ts';

export interface EtcdTls {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface EtcdMemberSpec {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
}

/** A free TCP port on 127.0.0.1 (closed again at once; etcd binds it right after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function etcdBinary(): string {
  const bin = findOnPath('etcd');
  if (bin === undefined) throw new Error('etcd is not installed: run `npm test` as root once (its pretest installs etcd-server), or `apt-get install etcd-server`');
  return bin;
}

export class EtcdMember {
  readonly spec: EtcdMemberSpec;
  readonly dataDir: string;
  readonly #cluster: readonly EtcdMemberSpec[];
  readonly #tls: EtcdTls | undefined;
  readonly #extraArgs: readonly string[];
  #proc: ChildProcess | undefined;
  #state: 'new' | 'existing' = 'new';
  readonly #killOnExit = (): void => {
    this.#proc?.kill('SIGKILL');
  };

  constructor(spec: EtcdMemberSpec, cluster: readonly EtcdMemberSpec[], tls: EtcdTls | undefined, baseDir: string, extraArgs: readonly string[] = []) {
    this.spec = spec;
    this.#extraArgs = extraArgs;
    this.#cluster = cluster;
    this.#tls = tls;
    this.dataDir = path.join(baseDir, spec.name);
  }

  get clientUrl(): string {
    return `${this.#tls ? 'https' : 'http'}://127.0.0.1:${this.spec.clientPort}`;
  }

  get running(): boolean {
    return this.#proc !== undefined && this.#proc.exitCode === null && this.#proc.signalCode === null;
  }

  start(): void {
    if (this.running) return;
    const initialCluster = this.#cluster.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
    const args = [
      '--name', this.spec.name, '--data-dir', this.dataDir,
      '--listen-client-urls', this.clientUrl, '--advertise-client-urls', this.clientUrl,
      '--listen-peer-urls', `http://127.0.0.1:${this.spec.peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${this.spec.peerPort}`,
      '--initial-cluster', initialCluster, '--initial-cluster-state', this.#state, '--initial-cluster-token', 'cattail-test',
      '--log-level', 'error', '--logger', 'zap',
      // Fast elections so a lost leader is replaced within a second or two on a busy machine.
      '--heartbeat-interval', '100', '--election-timeout', '1000',
    ];
    args.push(...this.#extraArgs);
    if (this.#tls) args.push('--client-cert-auth', '--trusted-ca-file', this.#tls.caFile, '--cert-file', this.#tls.certFile, '--key-file', this.#tls.keyFile);
    this.#proc = spawn(etcdBinary(), args, { stdio: 'ignore' });
    this.#state = 'existing';
    process.once('exit', this.#killOnExit);
  }

  /** Kills the member (SIGKILL by default: no goodbye to clients) and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.#proc;
    process.off('exit', this.#killOnExit);
    if (proc === undefined || !this.running) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill(signal);
    await exited;
  }

  /** SIGSTOP / SIGCONT: a member that keeps its sockets open and answers nothing. */
  pause(): void {
    this.#proc?.kill('SIGSTOP');
  }

  resume(): void {
    this.#proc?.kill('SIGCONT');
  }
}

/** One or more members forming one cluster. */
export class EtcdCluster {
  readonly members: readonly EtcdMember[];
  readonly #baseDir: string;

  private constructor(members: EtcdMember[], baseDir: string) {
    this.members = members;
    this.#baseDir = baseDir;
  }

  /** `extraArgs` go to every member, e.g. `['--auth-token-ttl', '2']`. */
  static async start(options: { size?: number; tls?: EtcdTls; extraArgs?: readonly string[] } = {}): Promise<EtcdCluster> {
    const size = options.size ?? 1;
    const baseDir = mkdtempSync(path.join(tmpdir(), 'cattail-etcd-'));
    const specs: EtcdMemberSpec[] = [];
    for (let i = 0; i < size; i++) specs.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort() });
    const cluster = new EtcdCluster(specs.map((s) => new EtcdMember(s, specs, options.tls, baseDir, options.extraArgs)), baseDir);
    for (const m of cluster.members) m.start();
    return cluster;
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.kill('SIGKILL')));
    rmSync(this.#baseDir, { recursive: true, force: true });
  }
}
