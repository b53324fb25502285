// rmw_dds_common/msg/ParticipantEntitiesInfo on the DDS topic ros_discovery_info: how a ROS 2 participant tells
// the ROS graph which nodes it hosts and which readers and writers belong to each (the `ros2 node list` view).
// A Gid is fixed-size (no length on the wire): the 16-byte DDS GUID, zero-padded to 24 bytes before Iron.
import { CdrWriter } from './cdr.js';

export const ROS_DISCOVERY_TOPIC = 'ros_discovery_info';
export const ROS_DISCOVERY_TYPE = 'rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_';

export interface ParticipantEntities {
  readonly gidBytes: 16 | 24;
  readonly participant: Uint8Array;
  /** ROS namespace of the node; '' is the root ("/"). */
  readonly namespace: string;
  readonly nodeName: string;
  readonly readers: readonly Uint8Array[];
  readonly writers: readonly Uint8Array[];
}

function gid(w: CdrWriter, guid: Uint8Array, size: number): void {
  for (let i = 0; i < size; i++) w.u8(i < guid.length ? guid[i] : 0);
}

export function encodeParticipantEntitiesInfo(e: ParticipantEntities): Uint8Array {
  const w = new CdrWriter();
  gid(w, e.participant, e.gidBytes);
  w.u32(1); // one node
  w.string(e.namespace === '' ? '/' : e.namespace);
  w.string(e.nodeName);
  for (const list of [e.readers, e.writers]) {
    w.u32(list.length);
    for (const g of list) gid(w, g, e.gidBytes);
  }
  return w.finish().slice();
}
