/**
 * IPPool → v1 `model.IPPool` at `/calico/v1/ipam/v<4|6>/pool/<cidr>`, after the KDD client's
 * upgrade of legacy v1 CRD fields (`spec.ipip {enabled, mode}`, `spec.nat-outgoing`). The key
 * comes from the CIDR, so a pool without a valid CIDR cannot name a key.
 */
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { ValidationError, isObject, optBool, optInt, optString, validatedKV, type JsonObject } from './fields.ts';
import { cidrForKey, ipPoolKey } from './keys.ts';
import { objectName } from './meta.ts';
import { formatNet } from './net.ts';
import { validateSelector } from './selectors.ts';

const ENCAP_TO_V1: Record<string, string> = { Always: 'always', CrossSubnet: 'cross-subnet', Never: '', '': '' };

/** The pool's effective IPIP mode once the legacy `ipip` block is folded in. */
function ipipMode(spec: JsonObject): string {
  const mode = optString(spec.ipipMode, 'spec.ipipMode') ?? '';
  if (mode !== '' || !isObject(spec.ipip)) return mode;
  if (spec.ipip.enabled !== true) return 'Never';
  return spec.ipip.mode === 'cross-subnet' ? 'CrossSubnet' : 'Always';
}

function poolValue(cidr: string, version: 4 | 6, spec: JsonObject): JsonObject {
  const ipip = ipipMode(spec);
  const vxlan = optString(spec.vxlanMode, 'spec.vxlanMode') ?? '';
  if (!(ipip in ENCAP_TO_V1)) throw new ValidationError(`spec.ipipMode ${JSON.stringify(ipip)} must be Never, Always or CrossSubnet`);
  if (!(vxlan in ENCAP_TO_V1)) throw new ValidationError(`spec.vxlanMode ${JSON.stringify(vxlan)} must be Never, Always or CrossSubnet`);
  const ipipV1 = ENCAP_TO_V1[ipip] as string;
  const vxlanV1 = ENCAP_TO_V1[vxlan] as string;
  if (ipipV1 !== '' && vxlanV1 !== '') throw new ValidationError('IPIP and VXLAN cannot both be enabled on one pool');
  if (ipipV1 !== '' && version === 6) throw new ValidationError('IPIP is not supported on an IPv6 pool');
  const blockSize = optInt(spec.blockSize, 'spec.blockSize');
  if (blockSize !== undefined) {
    const [lo, hi] = version === 4 ? [20, 32] : [116, 128];
    if (blockSize < lo || blockSize > hi) throw new ValidationError(`spec.blockSize must be between ${lo} and ${hi}`);
  }
  validateSelector(optString(spec.nodeSelector, 'spec.nodeSelector'), 'spec.nodeSelector');
  const natOutgoing = (optBool(spec.natOutgoing, 'spec.natOutgoing') ?? false) || spec['nat-outgoing'] === true;
  const disabled = optBool(spec.disabled, 'spec.disabled') ?? false;
  return {
    cidr,
    ipip: ipipV1 !== '' ? 'tunl0' : '',
    ipip_mode: ipipV1,
    vxlan_mode: vxlanV1,
    masquerade: natOutgoing,
    ipam: !disabled,
    disabled,
  };
}

export function convertIPPool(object: RawObject): ConvertedKV[] {
  const name = objectName(object);
  const spec = isObject(object.spec) ? object.spec : {};
  const net = cidrForKey(spec.cidr, `IPPool ${name} spec.cidr`);
  const key = ipPoolKey(net);
  return validatedKV(key, () => poolValue(formatNet(net), net.ip.version, spec));
}
