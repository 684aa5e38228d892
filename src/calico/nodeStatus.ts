/**
 * CalicoNodeStatus for the node-status syncer. Calico added this resource and syncer in v3.21
 * (it is not part of v3.20); Cattail serves it the way v3.21 does, as a whole v3 object at
 * `/calico/resources/v3/projectcalico.org/caliconodestatuses/<name>`. Spec and status are
 * copied as given rather than rebuilt field by field.
 */
import type { RawObject } from '../datastore/types.ts';
import type { ConvertedKV } from '../syncer/types.ts';
import { isObject, jsonCopy, validatedKV, type JsonObject } from './fields.ts';
import { resourceKey } from './keys.ts';
import { calicoObjectMeta, objectName, v3Header } from './meta.ts';

export function convertCalicoNodeStatus(object: RawObject): ConvertedKV[] {
  return validatedKV(resourceKey('caliconodestatuses', objectName(object)), (): JsonObject => ({
    ...v3Header('CalicoNodeStatus', calicoObjectMeta(object)),
    spec: isObject(object.spec) ? jsonCopy(object.spec) : {},
    status: isObject(object.status) ? jsonCopy(object.status) : {},
  }));
}
