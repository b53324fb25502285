/* bridge_main.c — striatum_dds_bridge: Eclipse Cyclone DDS for a Node.js process, over stdin/stdout.
 *
 * Node encodes and decodes ROS 2 messages itself (CDR); this process only moves payloads between its pipes
 * and DDS topics made with the rawcdr sertype, the way rmw_cyclonedds_cpp would (topic "rt/<name>", type
 * "<pkg>::msg::dds_::<Type>_", keyless, XCDR1). The framed protocol is in PROTOCOL.md.
 *
 * Untrusted input: none beyond the parent's frames (the parent is Striatum); DDS payloads are never parsed here.
 * Usage: striatum_dds_bridge [--domain N]   (Cyclone's own configuration comes from CYCLONEDDS_URI)
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dds/dds.h"
#include "dds/ddsi/ddsi_serdata.h"
#include "rawcdr.h"

#define BRIDGE_PROTOCOL_VERSION 1u
#define BRIDGE_MAX_CHANNELS 64u
#define BRIDGE_MAX_NAME 256u
#define BRIDGE_GENERAL_CHANNEL 0xFFFFu

enum {
  OP_OPEN_WRITER = 'W', OP_OPEN_READER = 'R', OP_DATA = 'D', OP_QUIT = 'Q',
  OP_HELLO = 'H', OP_OPENED = 'O', OP_ERROR = 'E', OP_MATCHED = 'M',
};

typedef struct {
  dds_entity_t topic;
  dds_entity_t entity; /* writer or reader; 0 when the channel is free */
  bool is_writer;
  const struct ddsi_sertype *sertype;
} channel_t;

static channel_t channels[BRIDGE_MAX_CHANNELS];
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static dds_entity_t participant;

/* ---- output ------------------------------------------------------------------------------------------------ */

static void write_all(const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(STDOUT_FILENO, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) _exit(0); /* the parent is gone: nothing left to bridge for */
    p += w;
    n -= (size_t)w;
  }
}

static void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put_u32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get_u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* One frame: u32 length, op, u16 channel, then `body` (may be NULL when n is 0). */
static void emit(uint8_t op, uint16_t channel, const void *body, uint32_t n) {
  uint8_t head[7];
  put_u32(head, 3u + n);
  head[4] = op;
  put_u16(head + 5, channel);
  pthread_mutex_lock(&out_lock);
  write_all(head, sizeof head);
  if (n > 0) write_all(body, n);
  pthread_mutex_unlock(&out_lock);
}

static void emit_error(uint16_t channel, const char *what, dds_return_t rc) {
  char text[512];
  int n = snprintf(text, sizeof text, "%s%s%s", what, rc < 0 ? ": " : "", rc < 0 ? dds_strretcode(rc) : "");
  emit(OP_ERROR, channel, text, (uint32_t)(n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1));
}

/* ---- DDS callbacks (Cyclone's threads) --------------------------------------------------------------------- */

static void on_data(dds_entity_t reader, void *arg) {
  uint16_t channel = (uint16_t)(uintptr_t)arg;
  struct ddsi_serdata *samples[16];
  dds_sample_info_t infos[16];
  for (;;) {
    dds_return_t n = dds_takecdr(reader, samples, 16, infos, DDS_ANY_STATE);
    if (n <= 0) return;
    for (int i = 0; i < n; i++) {
      if (infos[i].valid_data) {
        uint32_t size = 0;
        const uint8_t *payload = rawcdr_serdata_payload(samples[i], &size);
        emit(OP_DATA, channel, payload, size);
      }
      ddsi_serdata_unref(samples[i]);
    }
  }
}

static void on_publication_matched(dds_entity_t writer, const dds_publication_matched_status_t status, void *arg) {
  (void)writer;
  uint8_t count[4];
  put_u32(count, status.current_count);
  emit(OP_MATCHED, (uint16_t)(uintptr_t)arg, count, 4);
}

static void on_subscription_matched(dds_entity_t reader, const dds_subscription_matched_status_t status, void *arg) {
  (void)reader;
  uint8_t count[4];
  put_u32(count, status.current_count);
  emit(OP_MATCHED, (uint16_t)(uintptr_t)arg, count, 4);
}

/* ---- requests ---------------------------------------------------------------------------------------------- */

/* W/R body after the channel: u8 reliable, u8 transient_local, u16 depth, u16+topic, u16+type. */
static void open_endpoint(uint16_t ch, bool is_writer, const uint8_t *p, uint32_t n) {
  if (ch >= BRIDGE_MAX_CHANNELS || channels[ch].entity != 0) { emit_error(ch, "channel out of range or in use", 0); return; }
  if (n < 6) { emit_error(ch, "open: short request", 0); return; }
  bool reliable = p[0] != 0, transient_local = p[1] != 0;
  uint16_t depth = get_u16(p + 2);
  uint16_t topic_len = get_u16(p + 4);
  if (topic_len == 0 || topic_len >= BRIDGE_MAX_NAME || 6u + topic_len + 2u > n) { emit_error(ch, "open: bad topic name", 0); return; }
  uint16_t type_len = get_u16(p + 6 + topic_len);
  if (type_len == 0 || type_len >= BRIDGE_MAX_NAME || 8u + topic_len + type_len != n) { emit_error(ch, "open: bad type name", 0); return; }
  char topic_name[BRIDGE_MAX_NAME], type_name[BRIDGE_MAX_NAME];
  memcpy(topic_name, p + 6, topic_len);
  topic_name[topic_len] = '\0';
  memcpy(type_name, p + 8 + topic_len, type_len);
  type_name[type_len] = '\0';

  struct ddsi_sertype *st = rawcdr_sertype_new(type_name);
  if (st == NULL) { emit_error(ch, "open: out of memory", 0); return; }
  dds_entity_t topic = dds_create_topic_sertype(participant, topic_name, &st, NULL, NULL, NULL);
  if (topic < 0) { emit_error(ch, "open: create topic", topic); return; }

  dds_qos_t *qos = dds_create_qos();
  dds_qset_reliability(qos, reliable ? DDS_RELIABILITY_RELIABLE : DDS_RELIABILITY_BEST_EFFORT, DDS_MSECS(100));
  dds_qset_durability(qos, transient_local ? DDS_DURABILITY_TRANSIENT_LOCAL : DDS_DURABILITY_VOLATILE);
  dds_qset_history(qos, DDS_HISTORY_KEEP_LAST, depth == 0 ? 1 : depth);
  dds_data_representation_id_t xcdr1 = DDS_DATA_REPRESENTATION_XCDR1;
  dds_qset_data_representation(qos, 1, &xcdr1);
  dds_listener_t *listener = dds_create_listener((void *)(uintptr_t)ch);
  dds_entity_t entity;
  if (is_writer) {
    dds_lset_publication_matched(listener, on_publication_matched);
    entity = dds_create_writer(participant, topic, qos, listener);
  } else {
    dds_lset_data_available(listener, on_data);
    dds_lset_subscription_matched(listener, on_subscription_matched);
    entity = dds_create_reader(participant, topic, qos, listener);
  }
  dds_delete_listener(listener);
  dds_delete_qos(qos);
  if (entity < 0) { dds_delete(topic); emit_error(ch, is_writer ? "open: create writer" : "open: create reader", entity); return; }
  channels[ch].topic = topic;
  channels[ch].entity = entity;
  channels[ch].is_writer = is_writer;
  channels[ch].sertype = st;
  dds_guid_t guid;
  memset(&guid, 0, sizeof guid);
  (void)dds_get_guid(entity, &guid);
  emit(OP_OPENED, ch, guid.v, 16);
}

static void write_data(uint16_t ch, const uint8_t *payload, uint32_t n) {
  if (ch >= BRIDGE_MAX_CHANNELS || channels[ch].entity == 0 || !channels[ch].is_writer) { emit_error(ch, "data: not a writer channel", 0); return; }
  struct ddsi_serdata *d = rawcdr_serdata_new(channels[ch].sertype, payload, n);
  if (d == NULL) { emit_error(ch, "data: payload size out of range", 0); return; }
  dds_return_t rc = dds_writecdr(channels[ch].entity, d);
  if (rc < 0) emit_error(ch, "data: write", rc);
}

/* ---- main -------------------------------------------------------------------------------------------------- */

static bool read_exact(uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t r = read(STDIN_FILENO, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= (size_t)r;
  }
  return true;
}

int main(int argc, char **argv) {
  dds_domainid_t domain = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--domain") == 0 && i + 1 < argc) domain = (dds_domainid_t)strtoul(argv[++i], NULL, 10);
    else { fprintf(stderr, "usage: %s [--domain N]\n", argv[0]); return 2; }
  }
  signal(SIGPIPE, SIG_IGN);
  participant = dds_create_participant(domain, NULL, NULL);
  if (participant < 0) {
    fprintf(stderr, "striatum_dds_bridge: create participant: %s\n", dds_strretcode(participant));
    return 1;
  }
  dds_guid_t guid;
  memset(&guid, 0, sizeof guid);
  (void)dds_get_guid(participant, &guid);
  uint8_t hello[17];
  hello[0] = BRIDGE_PROTOCOL_VERSION;
  memcpy(hello + 1, guid.v, 16);
  emit(OP_HELLO, BRIDGE_GENERAL_CHANNEL, hello, sizeof hello);

  uint8_t *body = malloc(RAWCDR_MAX_BYTES + 16u);
  if (body == NULL) return 1;
  for (;;) {
    uint8_t head[4];
    if (!read_exact(head, 4)) break;
    uint32_t len = get_u32(head);
    if (len < 3 || len > RAWCDR_MAX_BYTES + 16u) { fprintf(stderr, "striatum_dds_bridge: bad frame length %u\n", len); break; }
    if (!read_exact(body, len)) break;
    uint8_t op = body[0];
    uint16_t ch = get_u16(body + 1);
    const uint8_t *rest = body + 3;
    uint32_t rest_len = len - 3;
    if (op == OP_DATA) write_data(ch, rest, rest_len);
    else if (op == OP_OPEN_WRITER || op == OP_OPEN_READER) open_endpoint(ch, op == OP_OPEN_WRITER, rest, rest_len);
    else if (op == OP_QUIT) break;
    else emit_error(ch, "unknown request", 0);
  }
  dds_delete(participant);
  free(body);
  return 0;
}
