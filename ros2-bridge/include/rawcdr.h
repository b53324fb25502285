/* rawcdr.h — a Cyclone DDS type that carries serialized CDR as it is, for any ROS 2 type name.
 *
 * rmw_cyclonedds_cpp registers its own sertype per ROS message type; this one does the same without knowing the
 * fields: a sample is the wire payload (4-byte encapsulation header + CDR body) and nothing else. Topics made
 * with it are keyless, match any peer by topic and type name, and never (de)serialize: Striatum's TypeScript
 * codec owns the encoding. Used by the bridge (writes what Node encoded, hands Node what arrived) and by the
 * golden tool (captures what Cyclone's own serializer puts on the wire).
 *
 * Untrusted input: the payload bytes. This layer copies them and never parses them.
 */
#ifndef ROS2_BRIDGE_RAWCDR_H
#define ROS2_BRIDGE_RAWCDR_H

#include <stdint.h>
#include "dds/dds.h"

/* Largest payload accepted (bytes, header included): a 1080p RGB image fits with room to spare. */
#define RAWCDR_MAX_BYTES (16u * 1024u * 1024u)

/* A new sertype for `type_name` (e.g. "sensor_msgs::msg::dds_::JointState_"); ownership goes to Cyclone with
 * dds_create_topic_sertype. */
struct ddsi_sertype *rawcdr_sertype_new(const char *type_name);

/* A serdata holding a copy of `size` payload bytes, ready for dds_writecdr (which takes the reference).
 * NULL when size is under 4 (no encapsulation header) or over RAWCDR_MAX_BYTES. */
struct ddsi_serdata *rawcdr_serdata_new(const struct ddsi_sertype *type, const uint8_t *payload, uint32_t size);

/* The payload of a serdata taken with dds_takecdr from a rawcdr topic, and its size. */
const uint8_t *rawcdr_serdata_payload(const struct ddsi_serdata *d, uint32_t *size);

#endif
