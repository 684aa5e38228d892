/** Top self-time functions of a V8 `.cpuprofile` (as written by `node --cpu-prof`), as text. */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export async function summarizeProfile(file: string, top: number): Promise<string> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n] as const));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (node === undefined) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url === '' ? '' : ` ${url.replace(/^.*\/(node_modules|src|bench)\//, '$1/').replace(/^node:/, 'node:')}:${lineNumber + 1}`;
    const label = `${functionName === '' ? '(anonymous)' : functionName}${where}`;
    self.set(label, (self.get(label) ?? 0) + dt);
    total += dt;
  });
  const lines = [...self].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([label, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${label}`);
  return [`  total ${(total / 1e6).toFixed(1)} s sampled`, ...lines].join('\n');
}
