/* seed_gen.c — writes CRC-valid seed inputs for the fuzzer: whole host sessions (HELLO, a command stream, ARM,
 * parameters, ESTOP ...) and single frames of every type with varied fields. Without valid CRCs a fuzzer
 * spends its time on checksum failures and never reaches the message decoders or the state machine.
 * Usage: sbp_seed_gen OUT_DIR [COUNT] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbp.h"

static uint32_t rng_state = 0x9E3779B9u;
static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static uint8_t out[16384];
static size_t out_len;
static uint16_t seq;

static void put(sbp_message_t *m) {
  size_t len = 0;
  m->seq = seq++;
  if (out_len + SBP_MAX_FRAME <= sizeof out && sbp_encode(m, out + out_len, SBP_MAX_FRAME, &len, NULL)) {
    out_len += len;
  }
}

static void simple(uint8_t type) {
  sbp_message_t m;
  memset(&m, 0, sizeof m);
  m.type = type;
  put(&m);
}

static void hello(uint32_t hash) {
  sbp_message_t m;
  memset(&m, 0, sizeof m);
  m.type = SBP_HELLO;
  m.as.hello.protocol_version = SBP_PROTOCOL_VERSION;
  m.as.hello.schema_hash = hash;
  put(&m);
}

static void command(uint8_t mode, uint8_t joints) {
  sbp_message_t m;
  uint8_t i;
  memset(&m, 0, sizeof m);
  m.type = SBP_COMMAND;
  m.as.command.mode = mode;
  m.as.command.joint_count = joints;
  for (i = 0; i < joints; i++) m.as.command.targets[i] = (float)((int32_t)(rng() % 4001u) - 2000) / 1000.0f;
  put(&m);
}

static void param(uint8_t type, uint16_t id, float value) {
  sbp_message_t m;
  memset(&m, 0, sizeof m);
  m.type = type;
  if (type == SBP_PARAM_GET) {
    m.as.param_get.id = id;
  } else {
    m.as.param_set.id = id;
    m.as.param_set.value = value;
  }
  put(&m);
}

static void random_message(void) {
  sbp_message_t m;
  uint8_t i, n = (uint8_t)(rng() % (SBP_MAX_JOINTS + 1u));
  static const uint8_t types[] = {SBP_HELLO_ACK, SBP_STATE, SBP_FAULT, SBP_PARAM_VALUE, SBP_HEARTBEAT};
  memset(&m, 0, sizeof m);
  m.type = types[rng() % sizeof types];
  switch (m.type) {
    case SBP_HELLO_ACK:
      m.as.hello_ack.joint_count = n;
      for (i = 0; i < n; i++) m.as.hello_ack.limits[i].pos_max = (float)i;
      m.as.hello_ack.firmware_id_len = (uint8_t)(rng() % (SBP_FIRMWARE_ID_MAX + 1u));
      memset(m.as.hello_ack.firmware_id, 'f', m.as.hello_ack.firmware_id_len);
      break;
    case SBP_STATE:
      m.as.state.joint_count = n;
      m.as.state.mcu_time_us = ((uint64_t)rng() << 32) | rng();
      m.as.state.flags = (uint16_t)rng();
      break;
    case SBP_FAULT:
      m.as.fault.code = (uint16_t)rng();
      m.as.fault.text_len = (uint8_t)(rng() % (SBP_FAULT_TEXT_MAX + 1u));
      memset(m.as.fault.text, 't', m.as.fault.text_len);
      break;
    case SBP_PARAM_VALUE:
      m.as.param_value.id = (uint16_t)(rng() % 6u);
      m.as.param_value.result = (uint8_t)(rng() % SBP_PARAM_RESULT_COUNT);
      break;
    default:
      break;
  }
  put(&m);
}

/* A host session against a 2-joint robot (the fuzz target's node has 2 joints). */
static void session(void) {
  unsigned i, n = 8 + rng() % 16u;
  hello(rng() % 8u == 0 ? rng() : SBP_SCHEMA_HASH);
  if (rng() % 2u) param(SBP_PARAM_SET, (uint16_t)(1u + rng() % 4u), (float)(rng() % 30u));
  if (rng() % 4u == 0) param(SBP_PARAM_SET, SBP_PARAM_SAFE_MODE, (float)SBP_SAFE_DISABLE);
  for (i = 0; i < n; i++) command((uint8_t)(rng() % SBP_MODE_COUNT), rng() % 10u == 0 ? 3 : 2);
  simple(SBP_ARM);
  for (i = 0; i < 4u + rng() % 8u; i++) command((uint8_t)(rng() % SBP_MODE_COUNT), 2);
  if (rng() % 2u) simple(SBP_ESTOP);
  if (rng() % 2u) param(SBP_PARAM_GET, (uint16_t)(rng() % 6u), 0.0f);
  if (rng() % 3u == 0) simple(SBP_HEARTBEAT);
  if (rng() % 3u == 0) random_message();
}

static int write_seed(const char *dir, unsigned index) {
  char path[4096];
  FILE *f;
  snprintf(path, sizeof path, "%s/seed-%03u.bin", dir, index);
  f = fopen(path, "wb");
  if (f == NULL || fwrite(out, 1, out_len, f) != out_len) {
    fprintf(stderr, "cannot write %s\n", path);
    if (f != NULL) fclose(f);
    return 1;
  }
  fclose(f);
  return 0;
}

int main(int argc, char **argv) {
  unsigned i, count = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 48u;
  if (argc < 2) {
    fprintf(stderr, "usage: %s OUT_DIR [COUNT]\n", argv[0]);
    return 2;
  }
  for (i = 0; i < count; i++) {
    out_len = 0;
    if (i % 3u == 2u) {
      random_message();
    } else {
      session();
    }
    if (write_seed(argv[1], i) != 0) return 1;
  }
  printf("wrote %u seeds to %s\n", count, argv[1]);
  return 0;
}
