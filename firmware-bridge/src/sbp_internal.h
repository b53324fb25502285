/* sbp_internal.h — little-endian byte helpers and in-place frame sealing shared by the library's sources.
 * Not installed; nothing here is part of the API. */
#ifndef SBP_INTERNAL_H
#define SBP_INTERNAL_H

#include <string.h>

#include "sbp.h"

/* Shifts, not memcpy of native integers: the byte order is the wire's whatever the CPU's. */
static inline void sbp_put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

static inline void sbp_put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static inline void sbp_put_u64(uint8_t *p, uint64_t v) {
  sbp_put_u32(p, (uint32_t)v);
  sbp_put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline void sbp_put_f32(uint8_t *p, float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits); /* IEEE-754 binary32 assumed, checked in sbp_message.c */
  sbp_put_u32(p, bits);
}

static inline uint16_t sbp_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static inline uint32_t sbp_get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t sbp_get_u64(const uint8_t *p) {
  return (uint64_t)sbp_get_u32(p) | ((uint64_t)sbp_get_u32(p + 4) << 32);
}

static inline float sbp_get_f32(const uint8_t *p) {
  uint32_t bits = sbp_get_u32(p);
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* Where a payload of payload_len bytes must be written in the wire buffer so that sbp_seal_in_place() can
 * COBS-encode the body forward over itself: one code byte ahead of the body, plus one per 254 body bytes. */
static inline size_t sbp_payload_offset(size_t payload_len) {
  size_t body_len = SBP_HEADER_SIZE + payload_len + SBP_CRC_SIZE;
  return 1u + body_len / 254u + SBP_HEADER_SIZE;
}

/* The payload already sits at wire + sbp_payload_offset(payload_len): write header and CRC around it, COBS
 * the body into place at wire[0] and append the delimiter. Callers check wire_cap against SBP_WIRE_SIZE_MAX
 * first, so this returns true; the bool only keeps the encoder's own check visible. */
SBP_NODISCARD bool sbp_seal_in_place(uint8_t type, uint16_t seq, size_t payload_len, uint8_t *wire,
                                     size_t *wire_len);

#endif /* SBP_INTERNAL_H */
