/* golden.c — ros2_golden: what Cyclone DDS's own serializer puts on the wire for Striatum's ROS 2 messages.
 *
 *   ros2_golden encode      one line per message: "<name> <hex>", the CDR payload (encapsulation header
 *                           included) of a fixed sample built with idlc-generated types; vectors/ holds them
 *   ros2_golden roundtrip   reads "<name> <hex>" lines; each payload is written raw, taken as an idlc sample
 *                           (Cyclone checks and decodes it), written again from that sample and printed;
 *                           "<name> REJECTED" when Cyclone would not decode it
 *
 * Samples travel through one participant's local delivery between an idlc-typed endpoint and a rawcdr one, so
 * the bytes are the ones Cyclone sends on RTPS. The sample values are repeated in test/ros2-golden.test.ts.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_interfaces.h"
#include "dds/dds.h"
#include "dds/ddsi/ddsi_serdata.h"
#include "diagnostic_msgs.h"
#include "rawcdr.h"
#include "sensor_msgs.h"
#include "std_msgs.h"
#include "trajectory_msgs.h"

#define MAX_HEX (2u * 65536u)

typedef struct {
  const char *name;
  const dds_topic_descriptor_t *desc;
  void (*fill)(void *sample);
  size_t sample_size;
} message_t;

/* ---- the fixed samples ------------------------------------------------------------------------------------- */

static double joint_positions[] = {0.5, -1.25, 3.0};
static double joint_velocities[] = {0.1, 0.2, -0.3};
static char *joint_names[] = {"shoulder", "elbow", "wrist"};

static void fill_joint_state(void *p) {
  sensor_msgs_msg_dds__JointState_ *m = p;
  m->header.stamp.sec = 1700000000;
  m->header.stamp.nanosec = 123456789u;
  m->header.frame_id = "base_link";
  m->name._length = m->name._maximum = 3;
  m->name._buffer = joint_names;
  m->position._length = m->position._maximum = 3;
  m->position._buffer = joint_positions;
  m->velocity._length = m->velocity._maximum = 3;
  m->velocity._buffer = joint_velocities;
}

static double command_values[] = {0.25, -0.5};
static std_msgs_msg_dds__MultiArrayDimension_ command_dims[] = {{"joints", 2, 2}};

static void fill_float64_multi_array(void *p) {
  std_msgs_msg_dds__Float64MultiArray_ *m = p;
  m->layout.dim._length = m->layout.dim._maximum = 1;
  m->layout.dim._buffer = command_dims;
  m->data._length = m->data._maximum = 2;
  m->data._buffer = command_values;
}

static char *trajectory_joints[] = {"x", "y"};
static double point_positions[] = {0.1, 0.2};
static trajectory_msgs_msg_dds__JointTrajectoryPoint_ trajectory_points[1];

static void fill_joint_trajectory(void *p) {
  trajectory_msgs_msg_dds__JointTrajectory_ *m = p;
  m->header.frame_id = "";
  m->joint_names._length = m->joint_names._maximum = 2;
  m->joint_names._buffer = trajectory_joints;
  trajectory_points[0].positions._length = trajectory_points[0].positions._maximum = 2;
  trajectory_points[0].positions._buffer = point_positions;
  trajectory_points[0].time_from_start.sec = 0;
  trajectory_points[0].time_from_start.nanosec = 20000000u;
  m->points._length = m->points._maximum = 1;
  m->points._buffer = trajectory_points;
}

static void fill_bool(void *p) { ((std_msgs_msg_dds__Bool_ *)p)->data = true; }

static void fill_string(void *p) { ((std_msgs_msg_dds__String_ *)p)->data = "running"; }

static diagnostic_msgs_msg_dds__KeyValue_ loop_values[] = {{"periodicity.average", "0.02"}, {"deadline_misses", "0"}};
static diagnostic_msgs_msg_dds__DiagnosticStatus_ statuses[2];

static void fill_diagnostic_array(void *p) {
  diagnostic_msgs_msg_dds__DiagnosticArray_ *m = p;
  m->header.stamp.sec = 12;
  m->header.stamp.nanosec = 500u;
  m->header.frame_id = "";
  statuses[0].level = 0;
  statuses[0].name = "striatum: control loop";
  statuses[0].message = "running";
  statuses[0].hardware_id = "robot-1";
  statuses[0].values._length = statuses[0].values._maximum = 2;
  statuses[0].values._buffer = loop_values;
  statuses[1].level = 2;
  statuses[1].name = "striatum: safety";
  statuses[1].message = "estopped";
  statuses[1].hardware_id = "robot-1";
  m->status._length = m->status._maximum = 2;
  m->status._buffer = statuses;
}

static uint8_t image_pixels[18];

static void fill_image(void *p) {
  sensor_msgs_msg_dds__Image_ *m = p;
  m->header.stamp.sec = 1;
  m->header.stamp.nanosec = 2u;
  m->header.frame_id = "camera";
  m->height = 2;
  m->width = 3;
  m->encoding = "rgb8";
  m->is_bigendian = 0;
  m->step = 9;
  for (unsigned i = 0; i < sizeof image_pixels; i++) image_pixels[i] = (uint8_t)i;
  m->data._length = m->data._maximum = sizeof image_pixels;
  m->data._buffer = image_pixels;
}

static uint8_t jpeg_bytes[] = {0xff, 0xd8, 0xff, 0xd9};

static void fill_compressed_image(void *p) {
  sensor_msgs_msg_dds__CompressedImage_ *m = p;
  m->header.stamp.sec = 1;
  m->header.stamp.nanosec = 2u;
  m->header.frame_id = "camera";
  m->format = "jpeg";
  m->data._length = m->data._maximum = sizeof jpeg_bytes;
  m->data._buffer = jpeg_bytes;
}

static const message_t messages[] = {
  {"joint_state", &sensor_msgs_msg_dds__JointState__desc, fill_joint_state, sizeof(sensor_msgs_msg_dds__JointState_)},
  {"float64_multi_array", &std_msgs_msg_dds__Float64MultiArray__desc, fill_float64_multi_array, sizeof(std_msgs_msg_dds__Float64MultiArray_)},
  {"joint_trajectory", &trajectory_msgs_msg_dds__JointTrajectory__desc, fill_joint_trajectory, sizeof(trajectory_msgs_msg_dds__JointTrajectory_)},
  {"bool", &std_msgs_msg_dds__Bool__desc, fill_bool, sizeof(std_msgs_msg_dds__Bool_)},
  {"string", &std_msgs_msg_dds__String__desc, fill_string, sizeof(std_msgs_msg_dds__String_)},
  {"diagnostic_array", &diagnostic_msgs_msg_dds__DiagnosticArray__desc, fill_diagnostic_array, sizeof(diagnostic_msgs_msg_dds__DiagnosticArray_)},
  {"image", &sensor_msgs_msg_dds__Image__desc, fill_image, sizeof(sensor_msgs_msg_dds__Image_)},
  {"compressed_image", &sensor_msgs_msg_dds__CompressedImage__desc, fill_compressed_image, sizeof(sensor_msgs_msg_dds__CompressedImage_)},
};
#define MESSAGE_COUNT (sizeof messages / sizeof messages[0])

/* ---- DDS plumbing ------------------------------------------------------------------------------------------ */

static dds_entity_t participant;

static dds_qos_t *reliable_qos(void) {
  dds_qos_t *qos = dds_create_qos();
  dds_qset_reliability(qos, DDS_RELIABILITY_RELIABLE, DDS_SECS(1));
  dds_qset_history(qos, DDS_HISTORY_KEEP_LAST, 10);
  dds_data_representation_id_t xcdr1 = DDS_DATA_REPRESENTATION_XCDR1;
  dds_qset_data_representation(qos, 1, &xcdr1);
  return qos;
}

static void die(const char *what, dds_return_t rc) {
  fprintf(stderr, "ros2_golden: %s: %s\n", what, rc < 0 ? dds_strretcode(rc) : "failed");
  exit(1);
}

/* Endpoints of one message on topic `topic`: a typed and a raw topic under the same name and type name. */
typedef struct {
  dds_entity_t typed_writer, typed_reader, raw_writer, raw_reader;
  const struct ddsi_sertype *raw_type;
} endpoints_t;

static endpoints_t open_endpoints(const message_t *m, const char *prefix) {
  endpoints_t e;
  char topic_name[128];
  snprintf(topic_name, sizeof topic_name, "rt/%s/%s", prefix, m->name);
  dds_qos_t *qos = reliable_qos();
  dds_entity_t typed = dds_create_topic(participant, m->desc, topic_name, qos, NULL);
  if (typed < 0) die("create typed topic", typed);
  struct ddsi_sertype *st = rawcdr_sertype_new(m->desc->m_typename);
  dds_entity_t raw = dds_create_topic_sertype(participant, topic_name, &st, qos, NULL, NULL);
  if (raw < 0) die("create raw topic", raw);
  e.raw_type = st;
  e.typed_writer = dds_create_writer(participant, typed, qos, NULL);
  e.typed_reader = dds_create_reader(participant, typed, qos, NULL);
  e.raw_writer = dds_create_writer(participant, raw, qos, NULL);
  e.raw_reader = dds_create_reader(participant, raw, qos, NULL);
  if (e.typed_writer < 0 || e.typed_reader < 0 || e.raw_writer < 0 || e.raw_reader < 0) die("create endpoints", -1);
  dds_delete_qos(qos);
  return e;
}

/* Wait up to a second for one sample on `reader`, take it (raw: as serdata; typed: into `sample`). */
static bool take_one(dds_entity_t reader, bool raw, void *sample, struct ddsi_serdata **serdata) {
  for (int tries = 0; tries < 1000; tries++) {
    dds_sample_info_t info;
    dds_return_t n;
    if (raw) n = dds_takecdr(reader, serdata, 1, &info, DDS_ANY_STATE);
    else {
      void *samples[1] = {sample};
      n = dds_take(reader, samples, &info, 1, 1);
    }
    if (n < 0) die("take", n);
    if (n == 1 && info.valid_data) return true;
    if (n == 1 && raw) ddsi_serdata_unref(*serdata);
    dds_sleepfor(DDS_MSECS(1));
  }
  return false;
}

static void print_raw(const char *name, struct ddsi_serdata *d) {
  uint32_t size = 0;
  const uint8_t *p = rawcdr_serdata_payload(d, &size);
  printf("%s ", name);
  for (uint32_t i = 0; i < size; i++) printf("%02x", p[i]);
  printf("\n");
}

static int encode(void) {
  for (size_t i = 0; i < MESSAGE_COUNT; i++) {
    const message_t *m = &messages[i];
    endpoints_t e = open_endpoints(m, "golden");
    void *sample = calloc(1, m->sample_size);
    m->fill(sample);
    dds_return_t rc = dds_write(e.typed_writer, sample);
    if (rc < 0) die("write", rc);
    free(sample); /* the fill functions point into static storage */
    struct ddsi_serdata *d = NULL;
    if (!take_one(e.raw_reader, true, NULL, &d)) die("no raw sample arrived", -1);
    print_raw(m->name, d);
    ddsi_serdata_unref(d);
  }
  return 0;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int roundtrip(void) {
  static char line[MAX_HEX + 128];
  static uint8_t bytes[MAX_HEX / 2];
  while (fgets(line, sizeof line, stdin) != NULL) {
    char *space = strchr(line, ' ');
    if (space == NULL) continue;
    *space = '\0';
    const message_t *m = NULL;
    for (size_t i = 0; i < MESSAGE_COUNT; i++) if (strcmp(messages[i].name, line) == 0) m = &messages[i];
    if (m == NULL) { printf("%s UNKNOWN\n", line); continue; }
    size_t n = 0;
    for (char *h = space + 1; hex_value(h[0]) >= 0 && hex_value(h[1]) >= 0; h += 2) bytes[n++] = (uint8_t)(hex_value(h[0]) * 16 + hex_value(h[1]));
    static unsigned round = 0;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "roundtrip%u", round++);
    endpoints_t e = open_endpoints(m, prefix);
    struct ddsi_serdata *in = rawcdr_serdata_new(e.raw_type, bytes, (uint32_t)n);
    if (in == NULL) { printf("%s REJECTED\n", m->name); continue; }
    dds_return_t rc = dds_writecdr(e.raw_writer, in);
    void *sample = calloc(1, m->sample_size);
    if (rc < 0 || !take_one(e.typed_reader, false, sample, NULL)) {
      printf("%s REJECTED\n", m->name);
    } else {
      /* the raw reader also got the original bytes: drop them, then write the decoded sample again */
      struct ddsi_serdata *d = NULL;
      if (take_one(e.raw_reader, true, NULL, &d)) ddsi_serdata_unref(d);
      rc = dds_write(e.typed_writer, sample);
      if (rc < 0) die("write", rc);
      if (!take_one(e.raw_reader, true, NULL, &d)) die("no raw sample arrived", -1);
      print_raw(m->name, d);
      ddsi_serdata_unref(d);
      dds_sample_free(sample, m->desc, DDS_FREE_CONTENTS);
    }
    free(sample);
    fflush(stdout);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2 || (strcmp(argv[1], "encode") != 0 && strcmp(argv[1], "roundtrip") != 0)) {
    fprintf(stderr, "usage: %s encode|roundtrip\n", argv[0]);
    return 2;
  }
  const char *domain = getenv("ROS_DOMAIN_ID"); /* as ROS 2 does: the DDS domain id */
  participant = dds_create_participant(domain != NULL ? (dds_domainid_t)strtoul(domain, NULL, 10) : DDS_DOMAIN_DEFAULT, NULL, NULL);
  if (participant < 0) die("create participant", participant);
  int rc = strcmp(argv[1], "encode") == 0 ? encode() : roundtrip();
  dds_delete(participant);
  return rc;
}
