/**
 * IPPool → v1 `model.IPPool` at `/calico/v1/ipam/v<4|6>/pool/<cidr>`, as libcalico-go e9d17133
 * does it in two steps: the KDD client's `IPPoolv1v3Converter.ConvertFromK8s`
 * (`lib/backend/k8s/resources/ippool.go`) upgrades the legacy v1 CRD fields, then
 * `convertIPPoolV2ToV1` (`updateprocessors/ippoolprocessor.go`) builds the v1 value. The key
 * comes from the CIDR, so a pool without a valid CIDR cannot name a key.
 *
 * Neither step validates: an unknown encapsulation mode becomes "off", IPIP and VXLAN may both
 * be on, and `blockSize`/`nodeSelector` are not read. Typha's v1 validator has no rule for
 * `model.IPPool` either, so these values reach Felix as written here.
 */
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { ValidationError, isObject, optBool, optString, validatedKV, type JsonObject } from './fields.ts';
import { cidrForKey, ipPoolKey } from './keys.ts';
import { objectName } from './meta.ts';
import { formatNet } from './net.ts';

/** v3 `IPIPMode`/`VXLANMode` → v1 `encap.Mode`; the Go switches are case-sensitive, anything else is off. */
const ENCAP_TO_V1: Readonly<Record<string, string>> = { Always: 'always', CrossSubnet: 'cross-subnet' };

/**
 * `ConvertFromK8s`: a legacy `ipip` block, when present (even `{}`), overrides `ipipMode`:
 * not enabled → Never; mode `cross-subnet` → CrossSubnet; any other mode → Always.
 */
function effectiveIPIPMode(spec: JsonObject): string {
  const mode = optString(spec.ipipMode, 'spec.ipipMode') ?? '';
  if (spec.ipip === undefined || spec.ipip === null) return mode;
  if (!isObject(spec.ipip)) throw new ValidationError('spec.ipip must be an object');
  const legacy = spec.ipip;
  if (!(optBool(legacy.enabled, 'spec.ipip.enabled') ?? false)) return 'Never';
  return optString(legacy.mode, 'spec.ipip.mode') === 'cross-subnet' ? 'CrossSubnet' : 'Always';
}

function poolValue(cidr: string, spec: JsonObject): JsonObject {
  const ipip = ENCAP_TO_V1[effectiveIPIPMode(spec)] ?? '';
  const vxlan = ENCAP_TO_V1[optString(spec.vxlanMode, 'spec.vxlanMode') ?? ''] ?? '';
  // `ConvertFromK8s`: the v3 flag ORed with the legacy `nat-outgoing`.
  const natOutgoing = (optBool(spec['nat-outgoing'], 'spec.nat-outgoing') ?? false) || (optBool(spec.natOutgoing, 'spec.natOutgoing') ?? false);
  const disabled = optBool(spec.disabled, 'spec.disabled') ?? false;
  return {
    cidr,
    ipip: ipip !== '' ? 'tunl0' : '',
    ipip_mode: ipip,
    vxlan_mode: vxlan,
    masquerade: natOutgoing,
    ipam: !disabled,
    disabled,
  };
}

export function convertIPPool(object: RawObject): ConvertedKV[] {
  const name = objectName(object);
  const spec = isObject(object.spec) ? object.spec : {};
  const net = cidrForKey(spec.cidr, `IPPool ${name} spec.cidr`);
  return validatedKV(ipPoolKey(net), () => poolValue(formatNet(net), spec));
}
