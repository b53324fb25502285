/* test_vectors.c — the golden vectors (vectors/NAME.hex and NAME.json, written by make_vectors.py, not by this library)
 * decode to their JSON fields and encode back to the exact bytes; the bad ones are rejected as their JSON
 * says; and SBP_SCHEMA_HASH is the CRC-32C of schema.txt. One cmocka test per vector file.
 * Usage: test_vectors [vectors_dir [schema_file]] (defaults are compiled in by CMake). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json_mini.h"
#include "sbp.h"
#include "test_util.h"

#ifndef SBP_VECTORS_DIR
#define SBP_VECTORS_DIR "vectors"
#endif
#ifndef SBP_SCHEMA_FILE
#define SBP_SCHEMA_FILE "schema.txt"
#endif

static const char *vectors_dir = SBP_VECTORS_DIR;
static const char *schema_file = SBP_SCHEMA_FILE;

#define MAX_VECTORS 128
#define MAX_WIRE 4096

static char good_names[MAX_VECTORS][96];
static char bad_names[MAX_VECTORS][96];

typedef struct {
  uint8_t wire[MAX_WIRE];
  size_t wire_len;
  char *json_text;
  json_doc_t doc;
} vector_t;

static vector_t vector; /* big: static, not on the stack */

static void load(const char *subdir, const char *name) {
  char path[512];
  char *hex;
  snprintf(path, sizeof path, "%s%s/%s.hex", vectors_dir, subdir, name);
  hex = read_file(path, NULL);
  assert_non_null(hex);
  vector.wire_len = hex_to_bytes(hex, vector.wire, sizeof vector.wire);
  free(hex);
  assert_true(vector.wire_len != (size_t)-1);
  snprintf(path, sizeof path, "%s%s/%s.json", vectors_dir, subdir, name);
  vector.json_text = read_file(path, NULL);
  assert_non_null(vector.json_text);
  assert_true(json_parse(&vector.doc, vector.json_text));
}

static void unload(void) {
  free(vector.json_text);
  vector.json_text = NULL;
}

/* ---- JSON -> message ------------------------------------------------------------------------------------- */

static double num(int obj, const char *key) {
  int t = json_get(&vector.doc, obj, key);
  assert_true(t >= 0);
  return json_number(&vector.doc, t);
}

static uint8_t floats(int obj, const char *key, float *out) {
  int arr = json_get(&vector.doc, obj, key);
  int i, n;
  assert_true(arr >= 0);
  n = vector.doc.tokens[arr].size;
  assert_true(n <= (int)SBP_MAX_JOINTS);
  for (i = 0; i < n; i++) out[i] = (float)json_number(&vector.doc, json_item(&vector.doc, arr, i));
  return (uint8_t)n;
}

static uint8_t text(int obj, const char *key, char *out, size_t cap) {
  return (uint8_t)json_string(&vector.doc, json_get(&vector.doc, obj, key), out, cap);
}

static void message_from_json(sbp_message_t *m) {
  char type[32];
  int t;
  memset(m, 0, sizeof *m);
  text(0, "type", type, sizeof type);
  for (t = 0; t < 256; t++) {
    if (sbp_type_name((uint8_t)t) != NULL && strcmp(sbp_type_name((uint8_t)t), type) == 0) break;
  }
  assert_true(t < 256);
  m->type = (uint8_t)t;
  m->seq = (uint16_t)num(0, "seq");
  switch (m->type) {
    case SBP_HELLO:
      m->as.hello.protocol_version = (uint8_t)num(0, "protocol_version");
      m->as.hello.schema_hash = (uint32_t)num(0, "schema_hash");
      break;
    case SBP_HELLO_ACK: {
      sbp_hello_ack_t *ack = &m->as.hello_ack;
      int arr = json_get(&vector.doc, 0, "limits");
      int i;
      ack->protocol_version = (uint8_t)num(0, "protocol_version");
      ack->schema_hash = (uint32_t)num(0, "schema_hash");
      assert_true(arr >= 0);
      ack->joint_count = (uint8_t)vector.doc.tokens[arr].size;
      for (i = 0; i < ack->joint_count; i++) {
        int lim = json_item(&vector.doc, arr, i);
        ack->limits[i].pos_min = (float)num(lim, "pos_min");
        ack->limits[i].pos_max = (float)num(lim, "pos_max");
        ack->limits[i].vel_max = (float)num(lim, "vel_max");
        ack->limits[i].effort_max = (float)num(lim, "effort_max");
      }
      ack->firmware_id_len = text(0, "firmware_id", ack->firmware_id, sizeof ack->firmware_id);
      break;
    }
    case SBP_COMMAND:
      m->as.command.mode = (uint8_t)num(0, "mode");
      m->as.command.joint_count = floats(0, "targets", m->as.command.targets);
      break;
    case SBP_STATE: {
      sbp_state_t *st = &m->as.state;
      st->mcu_time_us = (uint64_t)num(0, "mcu_time_us");
      st->flags = (uint16_t)num(0, "flags");
      st->last_command_seq = (uint16_t)num(0, "last_command_seq");
      st->joint_count = floats(0, "positions", st->positions);
      assert_int_equal(floats(0, "velocities", st->velocities), st->joint_count);
      assert_int_equal(floats(0, "efforts", st->efforts), st->joint_count);
      break;
    }
    case SBP_FAULT:
      m->as.fault.code = (uint16_t)num(0, "code");
      m->as.fault.text_len = text(0, "text", m->as.fault.text, sizeof m->as.fault.text);
      break;
    case SBP_PARAM_GET:
      m->as.param_get.id = (uint16_t)num(0, "id");
      break;
    case SBP_PARAM_SET:
      m->as.param_set.id = (uint16_t)num(0, "id");
      m->as.param_set.value = (float)num(0, "value");
      break;
    case SBP_PARAM_VALUE:
      m->as.param_value.id = (uint16_t)num(0, "id");
      m->as.param_value.value = (float)num(0, "value");
      m->as.param_value.result = (uint8_t)num(0, "result");
      break;
    default:
      break;
  }
}

/* Field by field, floats by bits: every vector value is exact in binary32. */
static void assert_messages_equal(const sbp_message_t *want, const sbp_message_t *got) {
  assert_int_equal(want->type, got->type);
  assert_int_equal(want->seq, got->seq);
  switch (want->type) {
    case SBP_HELLO:
      assert_int_equal(want->as.hello.protocol_version, got->as.hello.protocol_version);
      assert_int_equal(want->as.hello.schema_hash, got->as.hello.schema_hash);
      break;
    case SBP_HELLO_ACK:
      assert_int_equal(want->as.hello_ack.protocol_version, got->as.hello_ack.protocol_version);
      assert_int_equal(want->as.hello_ack.schema_hash, got->as.hello_ack.schema_hash);
      assert_int_equal(want->as.hello_ack.joint_count, got->as.hello_ack.joint_count);
      assert_memory_equal(want->as.hello_ack.limits, got->as.hello_ack.limits,
                          sizeof(sbp_joint_limits_t) * want->as.hello_ack.joint_count);
      assert_int_equal(want->as.hello_ack.firmware_id_len, got->as.hello_ack.firmware_id_len);
      assert_string_equal(want->as.hello_ack.firmware_id, got->as.hello_ack.firmware_id);
      break;
    case SBP_COMMAND:
      assert_int_equal(want->as.command.mode, got->as.command.mode);
      assert_int_equal(want->as.command.joint_count, got->as.command.joint_count);
      assert_memory_equal(want->as.command.targets, got->as.command.targets, 4u * want->as.command.joint_count);
      break;
    case SBP_STATE:
      assert_true(want->as.state.mcu_time_us == got->as.state.mcu_time_us);
      assert_int_equal(want->as.state.flags, got->as.state.flags);
      assert_int_equal(want->as.state.last_command_seq, got->as.state.last_command_seq);
      assert_int_equal(want->as.state.joint_count, got->as.state.joint_count);
      assert_memory_equal(want->as.state.positions, got->as.state.positions, 4u * want->as.state.joint_count);
      assert_memory_equal(want->as.state.velocities, got->as.state.velocities, 4u * want->as.state.joint_count);
      assert_memory_equal(want->as.state.efforts, got->as.state.efforts, 4u * want->as.state.joint_count);
      break;
    case SBP_FAULT:
      assert_int_equal(want->as.fault.code, got->as.fault.code);
      assert_int_equal(want->as.fault.text_len, got->as.fault.text_len);
      assert_string_equal(want->as.fault.text, got->as.fault.text);
      break;
    case SBP_PARAM_GET:
      assert_int_equal(want->as.param_get.id, got->as.param_get.id);
      break;
    case SBP_PARAM_SET:
      assert_int_equal(want->as.param_set.id, got->as.param_set.id);
      assert_memory_equal(&want->as.param_set.value, &got->as.param_set.value, 4);
      break;
    case SBP_PARAM_VALUE:
      assert_int_equal(want->as.param_value.id, got->as.param_value.id);
      assert_memory_equal(&want->as.param_value.value, &got->as.param_value.value, 4);
      assert_int_equal(want->as.param_value.result, got->as.param_value.result);
      break;
    default:
      break;
  }
}

/* ---- good vectors ---------------------------------------------------------------------------------------- */

static void test_good_vector(void **state) {
  const char *name = (const char *)*state;
  static sbp_decoder_t dec;
  static sbp_message_t want, got;
  static uint8_t wire[SBP_MAX_FRAME];
  static uint8_t body[SBP_MAX_BODY];
  sbp_frame_t frame;
  sbp_error_t err = {SBP_OK, NULL};
  size_t i, len = 0, frames = 0;

  load("", name);
  message_from_json(&want);
  assert_true(vector.wire_len <= SBP_MAX_FRAME);
  assert_int_equal(vector.wire[vector.wire_len - 1], 0x00);

  /* bytes -> message, one byte at a time: exactly one frame, delivered by the final delimiter */
  sbp_decoder_init(&dec);
  for (i = 0; i < vector.wire_len; i++) {
    sbp_rx_t rx = sbp_decoder_feed(&dec, vector.wire[i], &frame);
    assert_int_not_equal(rx, SBP_RX_DROPPED);
    if (rx == SBP_RX_FRAME) {
      assert_int_equal(i, vector.wire_len - 1);
      assert_true(sbp_decode(&frame, &got, &err));
      frames++;
    }
  }
  assert_int_equal(frames, 1);
  assert_messages_equal(&want, &got);

  /* the whole-buffer decoder agrees */
  memset(&got, 0, sizeof got);
  assert_true(sbp_frame_unpack(vector.wire, vector.wire_len, body, sizeof body, &frame, &err));
  assert_true(sbp_decode(&frame, &got, &err));
  assert_messages_equal(&want, &got);

  /* message -> the exact bytes */
  assert_true(sbp_encode(&want, wire, sizeof wire, &len, &err));
  assert_int_equal(len, vector.wire_len);
  assert_memory_equal(wire, vector.wire, len);
  assert_true(len <= SBP_WIRE_SIZE_MAX(sbp_payload_size(&want, NULL)));
  unload();
}

/* ---- bad vectors ----------------------------------------------------------------------------------------- */

/* Compare a JSON array of strings with the names collected. */
static void assert_names(const char *key, char names[][16], int count) {
  int arr = json_get(&vector.doc, 0, key);
  int i;
  char want[32];
  assert_true(arr >= 0);
  assert_int_equal(vector.doc.tokens[arr].size, count);
  for (i = 0; i < count; i++) {
    json_string(&vector.doc, json_item(&vector.doc, arr, i), want, sizeof want);
    assert_string_equal(want, names[i]);
  }
}

static void run_bad(size_t chunk) {
  static sbp_decoder_t dec;
  static sbp_message_t msg;
  char frame_errors[16][16], message_errors[16][16], valid[16][16];
  int nf = 0, nm = 0, nv = 0;
  size_t at = 0;
  sbp_decoder_init(&dec);
  while (at < vector.wire_len) {
    size_t used = 0, n = vector.wire_len - at < chunk ? vector.wire_len - at : chunk;
    sbp_frame_t frame;
    sbp_rx_t rx = sbp_decoder_push(&dec, vector.wire + at, n, &used, &frame);
    at += used;
    if (rx == SBP_RX_DROPPED) {
      assert_true(nf < 16);
      snprintf(frame_errors[nf++], 16, "%s", sbp_code_name(dec.error.code));
    } else if (rx == SBP_RX_FRAME) {
      sbp_error_t err = {SBP_OK, NULL};
      if (sbp_decode(&frame, &msg, &err)) {
        assert_true(nv < 16);
        snprintf(valid[nv++], 16, "%s", sbp_type_name(msg.type));
      } else {
        assert_true(nm < 16);
        assert_int_not_equal(err.code, SBP_OK);
        assert_non_null(err.msg);
        snprintf(message_errors[nm++], 16, "%s", sbp_code_name(err.code));
      }
    }
  }
  assert_names("frame_errors", frame_errors, nf);
  assert_names("message_errors", message_errors, nm);
  assert_names("valid_messages", valid, nv);
  assert_int_equal(dec.stats.resyncs, (uint32_t)nf);
  assert_int_equal(dec.stats.frames, (uint32_t)(nm + nv));
  assert_int_equal(dec.stats.crc_errors + dec.stats.malformed + dec.stats.oversize + dec.stats.version_errors,
                   (uint32_t)nf);
}

static void test_bad_vector(void **state) {
  load("/bad", (const char *)*state);
  run_bad(1);       /* byte by byte */
  run_bad(7);       /* odd chunks */
  run_bad(MAX_WIRE); /* all at once */
  unload();
}

/* ---- schema ---------------------------------------------------------------------------------------------- */

static void test_schema_hash_matches_schema_file(void **state) {
  size_t len = 0;
  char *schema = read_file(schema_file, &len);
  (void)state;
  assert_non_null(schema);
  assert_true(len > 0);
  assert_true(strchr(schema, '\r') == NULL); /* LF only: the hash is over exact bytes */
  assert_int_equal(sbp_crc32c((const uint8_t *)schema, len), SBP_SCHEMA_HASH);
  free(schema);
}

int main(int argc, char **argv) {
  static struct CMUnitTest tests[2 * MAX_VECTORS + 1];
  char bad_dir[512];
  size_t n_good, n_bad, i, n = 0;
  if (argc > 1) vectors_dir = argv[1];
  if (argc > 2) schema_file = argv[2];
  snprintf(bad_dir, sizeof bad_dir, "%s/bad", vectors_dir);
  n_good = list_files(vectors_dir, ".hex", good_names, MAX_VECTORS);
  n_bad = list_files(bad_dir, ".hex", bad_names, MAX_VECTORS);
  if (n_good < 10 || n_bad < 5) {
    fprintf(stderr, "too few vectors in %s (%zu good, %zu bad)\n", vectors_dir, n_good, n_bad);
    return 1;
  }
  tests[n].name = "schema_hash_matches_schema_file";
  tests[n].test_func = test_schema_hash_matches_schema_file;
  tests[n].setup_func = NULL;
  tests[n].teardown_func = NULL;
  tests[n++].initial_state = NULL;
  for (i = 0; i < n_good; i++, n++) {
    tests[n].name = good_names[i];
    tests[n].test_func = test_good_vector;
    tests[n].setup_func = NULL;
    tests[n].teardown_func = NULL;
    tests[n].initial_state = good_names[i];
  }
  for (i = 0; i < n_bad; i++, n++) {
    tests[n].name = bad_names[i];
    tests[n].test_func = test_bad_vector;
    tests[n].setup_func = NULL;
    tests[n].teardown_func = NULL;
    tests[n].initial_state = bad_names[i];
  }
  return _cmocka_run_group_tests("vectors", tests, n, NULL, NULL);
}
