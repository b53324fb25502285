/* sbp.h — Striatum bridge protocol (SBP): the wire codec shared by robot firmware and the Striatum host.
 *
 * SBP carries joint commands from the host to a microcontroller and joint state back, over a serial link.
 * Frames are COBS-encoded and end with 0x00; each carries a version, a type, a sequence number, a payload
 * and a CRC-32C. PROTOCOL.md is the specification; this header is its C99 implementation: no malloc, the
 * caller owns every buffer, maximum sizes are #defines, and every function that can fail returns a bool
 * (or a result code) that the compiler will not let you ignore.
 *
 * Sections, top to bottom:
 *   1. Untrusted inputs and what the decoder guarantees
 *   2. Sizes and limits
 *   3. Errors
 *   4. Message types, enums and flags
 *   5. Messages
 *   6. Encoding
 *   7. Decoding (streaming and whole-buffer)
 *   8. Primitives (CRC-32C, COBS)
 *
 * The MCU-side safety state machine (watchdog, e-stop latch, arming) is in sbp_safety.h, and the node that
 * ties decoder, safety and replies together for firmware is in sbp_node.h.
 */
#ifndef SBP_H
#define SBP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------------------
 * 1. Untrusted inputs and what the decoder guarantees
 *
 * Untrusted: every byte given to sbp_decoder_feed(), sbp_decoder_push() and sbp_frame_unpack(), and every
 * sbp_frame_t given to sbp_decode() (its payload bytes came off the wire). A peer may send any byte sequence:
 * noise, truncated frames, frames longer than SBP_MAX_FRAME, valid CRCs around nonsense payloads.
 *
 * Trusted: the structs given to the encoders (sbp_encode, sbp_frame_pack) — they come from your own code —
 * though their counts are still checked against the maximums and an error is returned rather than overrun.
 *
 * Guarantees of the decoders, for any input:
 *   - No write outside the decoder struct, the caller's buffers and the output structs, whatever the input;
 *     no read outside the given input. Every length is checked before the bytes it covers are read.
 *   - No recursion, no allocation, constant stack; time linear in the input length.
 *   - A frame longer than SBP_MAX_FRAME is dropped as it arrives (no buffering past the limit) and the decoder
 *     is back in step at the next 0x00: one bad frame never costs the frame after it.
 *   - A frame is delivered only if its COBS structure is sound, its CRC-32C matches and its version is
 *     SBP_PROTOCOL_VERSION. sbp_decode() then accepts only the exact payload length the message type implies,
 *     with every count within its maximum. Text fields are NOT NUL-terminated on the wire; decoded text is
 *     always NUL-terminated in the struct.
 *   - Floats are passed through bit for bit: NaN and infinities decode. The safety layer (sbp_safety.h)
 *     rejects non-finite command targets; any other consumer must do the same.
 *   - Every dropped frame is counted once (sbp_decoder_stats_t) and its reason kept in decoder->error.
 * ------------------------------------------------------------------------------------------------------- */

#if defined(__GNUC__) || defined(__clang__)
#define SBP_NODISCARD __attribute__((warn_unused_result))
#else
#define SBP_NODISCARD
#endif

/* ---------------------------------------------------------------------------------------------------------
 * 2. Sizes and limits
 * ------------------------------------------------------------------------------------------------------- */

#define SBP_PROTOCOL_VERSION 1u
/* CRC-32C of schema.txt's bytes. A unit test recomputes it from the file: edit both or neither. */
#define SBP_SCHEMA_HASH 0x9AD5EF69u

#define SBP_MAX_JOINTS 16u
#define SBP_FIRMWARE_ID_MAX 32u   /* bytes of firmware id text in HELLO_ACK */
#define SBP_FAULT_TEXT_MAX 48u    /* bytes of text in FAULT */

#define SBP_HEADER_SIZE 4u        /* version u8, type u8, seq u16 */
#define SBP_CRC_SIZE 4u           /* CRC-32C u32 after the payload */

/* The largest payload is HELLO_ACK with SBP_MAX_JOINTS joints and a full firmware id:
 * 1 version + 4 hash + 1 count + 16 * 16 limits + 1 id length + 32 id = 295. */
#define SBP_MAX_PAYLOAD 295u
/* Header + payload + CRC: the bytes inside the COBS encoding. */
#define SBP_MAX_BODY (SBP_HEADER_SIZE + SBP_MAX_PAYLOAD + SBP_CRC_SIZE)
/* COBS adds one code byte, plus one per 254 bytes of body. */
#define SBP_COBS_MAX_ENCODED(n) ((n) + 1u + (n) / 254u)
/* Bytes between two delimiters, at most. */
#define SBP_MAX_ENCODED SBP_COBS_MAX_ENCODED(SBP_MAX_BODY)
/* A whole frame on the wire, worst case, trailing 0x00 included: 306. Size transmit buffers with this. */
#define SBP_MAX_FRAME (SBP_MAX_ENCODED + 1u)
/* Wire size of a frame whose payload is n bytes, worst case (exact when the body holds no 254-byte run). */
#define SBP_WIRE_SIZE_MAX(n) (SBP_COBS_MAX_ENCODED(SBP_HEADER_SIZE + (n) + SBP_CRC_SIZE) + 1u)

/* ---------------------------------------------------------------------------------------------------------
 * 3. Errors
 *
 * Functions that can fail take an sbp_error_t* (NULL allowed) and return false (or SBP_RX_DROPPED). The first
 * error wins: a function writes the error only while err->code is still SBP_OK, so a chain of calls reports
 * the error that started the trouble. Start from a zeroed struct. Messages are constant strings; test and
 * branch on the code, print the message.
 * ------------------------------------------------------------------------------------------------------- */

typedef enum {
  SBP_OK = 0,
  /* frame level: the decoder drops the frame */
  SBP_ERR_OVERSIZE,   /* more than SBP_MAX_ENCODED bytes before the delimiter, or body over SBP_MAX_BODY */
  SBP_ERR_COBS,       /* a COBS block runs past the end of the frame (truncated or garbage) */
  SBP_ERR_SHORT,      /* body shorter than header + CRC (8 bytes) */
  SBP_ERR_CRC,        /* CRC-32C mismatch */
  SBP_ERR_VERSION,    /* CRC fine, version byte is not SBP_PROTOCOL_VERSION */
  /* message level: the frame was sound, its payload is not */
  SBP_ERR_TYPE,       /* unknown message type */
  SBP_ERR_LENGTH,     /* payload shorter or longer than the message's fields */
  SBP_ERR_RANGE,      /* a count above its maximum, or an enum value that is not defined */
  /* caller side */
  SBP_ERR_BUFFER,     /* output buffer too small */
  SBP_ERR_ARGUMENT    /* invalid argument from the caller (NULL pointer, count above maximum) */
} sbp_code_t;

typedef struct {
  sbp_code_t code;
  const char *msg; /* constant string, NULL while code is SBP_OK */
} sbp_error_t;

#define SBP_GET_ERROR(err) ((err)->msg != NULL ? (err)->msg : "(none)")

/* Record an error unless one is already recorded. Always returns false, so `return sbp_fail(...)` reads well. */
bool sbp_fail(sbp_error_t *err, sbp_code_t code, const char *msg);

/* Stable short name of a code ("crc", "oversize" ...), as used in the vectors/bad JSON files. */
const char *sbp_code_name(sbp_code_t code);

/* ---------------------------------------------------------------------------------------------------------
 * 4. Message types, enums and flags (numbers fixed by schema.txt)
 * ------------------------------------------------------------------------------------------------------- */

typedef enum {
  SBP_HELLO = 0x01,       /* host -> MCU: start of a session */
  SBP_HELLO_ACK = 0x02,   /* MCU -> host: identity, joint count and limits */
  SBP_HEARTBEAT = 0x03,   /* either way: link alive while nothing else is sent; does not feed the watchdog */
  SBP_COMMAND = 0x10,     /* host -> MCU: joint targets; feeds the watchdog */
  SBP_STATE = 0x11,       /* MCU -> host: joint state, every control tick */
  SBP_ESTOP = 0x20,       /* host -> MCU: enter the safe state and latch */
  SBP_ARM = 0x21,         /* host -> MCU: leave the safe state (needs a healthy command stream first) */
  SBP_FAULT = 0x22,       /* MCU -> host: a safety event or firmware fault */
  SBP_PARAM_GET = 0x30,   /* host -> MCU */
  SBP_PARAM_SET = 0x31,   /* host -> MCU */
  SBP_PARAM_VALUE = 0x32  /* MCU -> host: answer to PARAM_GET and PARAM_SET */
} sbp_type_t;

typedef enum { SBP_MODE_POSITION = 0, SBP_MODE_VELOCITY = 1, SBP_MODE_EFFORT = 2 } sbp_mode_t;
#define SBP_MODE_COUNT 3u

/* STATE.flags bits. Bits not listed are reserved: senders write 0, receivers ignore them. */
#define SBP_FLAG_ARMED (1u << 0)          /* commands drive the motors */
#define SBP_FLAG_ESTOPPED (1u << 1)       /* ESTOP received; latched until ARM */
#define SBP_FLAG_WATCHDOG_SAFE (1u << 2)  /* safe state entered because commands stopped; until ARM */
#define SBP_FLAG_FAULT (1u << 3)          /* firmware fault latched; until ARM */
#define SBP_FLAG_SAFE_DISABLED (1u << 4)  /* in the safe state with motors disabled (clear: holding) */
#define SBP_FLAG_STREAM_HEALTHY (1u << 5) /* the command stream is healthy: ARM would be accepted now */
#define SBP_FLAG_HANDSHAKE_OK (1u << 6)   /* a HELLO with matching version and schema hash was received */
#define SBP_FLAG_LIMITED (1u << 7)        /* the last applied command was clamped to the joint limits */

/* FAULT.code values. 0x8000..0xFFFF belong to the firmware (driver faults) and latch SBP_FLAG_FAULT. */
#define SBP_FAULT_WATCHDOG 1u        /* no valid COMMAND within the watchdog timeout; safe state entered */
#define SBP_FAULT_ESTOP 2u           /* ESTOP received; safe state latched */
#define SBP_FAULT_ARM_REFUSED 3u     /* ARM without a healthy command stream or handshake */
#define SBP_FAULT_SCHEMA_MISMATCH 4u /* HELLO carried another protocol version or schema hash */
#define SBP_FAULT_BAD_COMMAND 5u     /* COMMAND with the wrong joint count or a non-finite target */
#define SBP_FAULT_NOT_READY 6u       /* COMMAND before a successful HELLO */
#define SBP_FAULT_FIRMWARE_FIRST 0x8000u

/* PARAM ids. Values travel as f32. */
#define SBP_PARAM_WATCHDOG_TIMEOUT_MS 1u /* default 20, range [1, 1000] */
#define SBP_PARAM_HEALTHY_COUNT 2u       /* default 10, integer in [1, 10000] */
#define SBP_PARAM_HEALTHY_MAX_GAP_MS 3u  /* default 10, range [0.1, 1000] */
#define SBP_PARAM_SAFE_MODE 4u           /* default 0: SBP_SAFE_HOLD or SBP_SAFE_DISABLE */

#define SBP_PARAM_OK 0u
#define SBP_PARAM_UNKNOWN_ID 1u
#define SBP_PARAM_OUT_OF_RANGE 2u
#define SBP_PARAM_REFUSED_WHILE_ARMED 3u
#define SBP_PARAM_RESULT_COUNT 4u

#define SBP_SAFE_HOLD 0u    /* safe state holds the joints where they were */
#define SBP_SAFE_DISABLE 1u /* safe state removes motor power */

/* ---------------------------------------------------------------------------------------------------------
 * 5. Messages
 *
 * One struct per payload; sbp_message_t holds the type, the header's sequence number and a union. Counts
 * (joint_count, text lengths) are explicit fields: the encoder writes exactly that many entries.
 * ------------------------------------------------------------------------------------------------------- */

typedef struct {
  uint8_t protocol_version;
  uint32_t schema_hash;
} sbp_hello_t;

typedef struct {
  float pos_min;    /* rad or m */
  float pos_max;
  float vel_max;    /* per second, symmetric */
  float effort_max; /* N·m or N, symmetric */
} sbp_joint_limits_t;

typedef struct {
  uint8_t protocol_version;
  uint32_t schema_hash;
  uint8_t joint_count;
  sbp_joint_limits_t limits[SBP_MAX_JOINTS];
  uint8_t firmware_id_len;
  char firmware_id[SBP_FIRMWARE_ID_MAX + 1]; /* NUL-terminated after decode */
} sbp_hello_ack_t;

typedef struct {
  uint8_t mode; /* sbp_mode_t */
  uint8_t joint_count;
  float targets[SBP_MAX_JOINTS];
} sbp_command_t;

typedef struct {
  /* u64: a u32 of microseconds wraps after 71.6 minutes, and every host would then need wrap logic that
   * survives MCU resets and lost frames. Four bytes per STATE is cheaper than that code. */
  uint64_t mcu_time_us;
  uint16_t flags;            /* SBP_FLAG_* */
  uint16_t last_command_seq; /* header seq of the last valid COMMAND accepted; for round-trip timing */
  uint8_t joint_count;
  float positions[SBP_MAX_JOINTS];
  float velocities[SBP_MAX_JOINTS];
  float efforts[SBP_MAX_JOINTS];
} sbp_state_t;

typedef struct {
  uint16_t code; /* SBP_FAULT_* */
  uint8_t text_len;
  char text[SBP_FAULT_TEXT_MAX + 1]; /* NUL-terminated after decode */
} sbp_fault_t;

typedef struct {
  uint16_t id;
} sbp_param_get_t;

typedef struct {
  uint16_t id;
  float value;
} sbp_param_set_t;

typedef struct {
  uint16_t id;
  float value;
  uint8_t result; /* SBP_PARAM_OK ... */
} sbp_param_value_t;

typedef struct {
  uint8_t type; /* sbp_type_t */
  uint16_t seq;
  union {
    sbp_hello_t hello;
    sbp_hello_ack_t hello_ack;
    sbp_command_t command;
    sbp_state_t state;
    sbp_fault_t fault;
    sbp_param_get_t param_get;
    sbp_param_set_t param_set;
    sbp_param_value_t param_value;
  } as; /* HEARTBEAT, ESTOP and ARM have no payload */
} sbp_message_t;

/* Name of a message type ("COMMAND"), or NULL when the type is unknown. */
const char *sbp_type_name(uint8_t type);

/* ---------------------------------------------------------------------------------------------------------
 * 6. Encoding
 * ------------------------------------------------------------------------------------------------------- */

/* Payload bytes msg will take, or 0 with err set when a count is above its maximum or the type is unknown
 * (0 is also the true size of HEARTBEAT, ESTOP and ARM: check err). */
size_t sbp_payload_size(const sbp_message_t *msg, sbp_error_t *err);

/* Encode msg (its type, seq and payload) as a complete wire frame into wire[0 .. *wire_len), trailing 0x00
 * included. wire_cap must be at least SBP_WIRE_SIZE_MAX(payload size); SBP_MAX_FRAME always suffices.
 * The frame is built in place in wire: no other buffer is used. */
SBP_NODISCARD bool sbp_encode(const sbp_message_t *msg, uint8_t *wire, size_t wire_cap, size_t *wire_len,
                              sbp_error_t *err);

/* Frame arbitrary payload bytes (up to SBP_MAX_PAYLOAD) as a wire frame. payload must not overlap wire.
 * For tests, tools and new message types; sbp_encode() is the normal path. */
SBP_NODISCARD bool sbp_frame_pack(uint8_t type, uint16_t seq, const uint8_t *payload, size_t payload_len,
                                  uint8_t *wire, size_t wire_cap, size_t *wire_len, sbp_error_t *err);

/* ---------------------------------------------------------------------------------------------------------
 * 7. Decoding
 *
 * Bytes -> frame (COBS, CRC, version) -> message (payload layout). The streaming decoder takes one byte at a
 * time, e.g. from a UART interrupt; sbp_decoder_push() takes a chunk, e.g. from DMA or read(2);
 * sbp_frame_unpack() takes one whole frame. All three accept the same frames and report the same errors.
 * ------------------------------------------------------------------------------------------------------- */

/* A frame that passed COBS, CRC and version checks. payload points into the decoder (or the caller's body
 * buffer for sbp_frame_unpack) and stays valid until the next byte is fed. */
typedef struct {
  uint8_t version;
  uint8_t type;
  uint16_t seq;
  const uint8_t *payload;
  size_t payload_len;
} sbp_frame_t;

/* Counters since sbp_decoder_init. Every dropped frame is counted in exactly one error counter and in
 * resyncs. Empty frames (0x00 0x00) are legal padding and counted nowhere. */
typedef struct {
  uint32_t frames;         /* valid frames delivered */
  uint32_t crc_errors;     /* SBP_ERR_CRC */
  uint32_t malformed;      /* SBP_ERR_COBS and SBP_ERR_SHORT */
  uint32_t oversize;       /* SBP_ERR_OVERSIZE */
  uint32_t version_errors; /* SBP_ERR_VERSION */
  uint32_t resyncs;        /* frames dropped for any reason: bytes thrown away up to the next delimiter */
} sbp_decoder_stats_t;

typedef struct {
  uint8_t body[SBP_MAX_BODY]; /* decoded bytes of the frame being received */
  uint16_t body_len;
  uint16_t encoded_len;       /* bytes since the last delimiter */
  uint8_t block_left;         /* data bytes still due in the current COBS block */
  uint8_t block_code;         /* code byte of the current block (0: none yet) */
  bool discarding;            /* frame already too long: drop bytes until the delimiter */
  sbp_error_t error;          /* why the last frame was dropped; reset when a frame starts */
  sbp_decoder_stats_t stats;
} sbp_decoder_t;

typedef enum {
  SBP_RX_PENDING = 0, /* byte consumed, no frame finished */
  SBP_RX_FRAME,       /* a valid frame is in *frame */
  SBP_RX_DROPPED      /* a frame ended and was dropped; reason in decoder->error */
} sbp_rx_t;

void sbp_decoder_init(sbp_decoder_t *dec);

/* Feed one byte. Never fails on its own account: bad input shows as SBP_RX_DROPPED and a counter. */
SBP_NODISCARD sbp_rx_t sbp_decoder_feed(sbp_decoder_t *dec, uint8_t byte, sbp_frame_t *frame);

/* Feed bytes until a frame finishes (or is dropped) or the input runs out. *consumed says how many bytes were
 * taken; call again with the rest. Exactly equivalent to feeding the same bytes one by one. */
SBP_NODISCARD sbp_rx_t sbp_decoder_push(sbp_decoder_t *dec, const uint8_t *data, size_t len, size_t *consumed,
                                        sbp_frame_t *frame);

/* Decode exactly one frame from wire[0 .. wire_len); one trailing 0x00 is allowed. body (body_cap at least
 * SBP_MAX_BODY) receives the decoded bytes that frame->payload points into. For bytes without an inner 0x00
 * the result and error are the streaming decoder's; an inner 0x00 (which the streaming decoder would take as
 * the end of a frame) is SBP_ERR_COBS, and empty input is SBP_ERR_SHORT rather than padding. */
SBP_NODISCARD bool sbp_frame_unpack(const uint8_t *wire, size_t wire_len, uint8_t *body, size_t body_cap,
                                    sbp_frame_t *frame, sbp_error_t *err);

/* Parse a frame's payload into msg. Fields are read in order; a payload that ends early or has bytes left
 * over is SBP_ERR_LENGTH, a count above its maximum or an undefined enum value is SBP_ERR_RANGE as soon as it
 * is read, an unknown type is SBP_ERR_TYPE. On failure msg is left partly written. */
SBP_NODISCARD bool sbp_decode(const sbp_frame_t *frame, sbp_message_t *msg, sbp_error_t *err);

/* ---------------------------------------------------------------------------------------------------------
 * 8. Primitives
 * ------------------------------------------------------------------------------------------------------- */

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, init 0xFFFFFFFF, final xor 0xFFFFFFFF).
 * sbp_crc32c("123456789", 9) == 0xE3069283. To checksum in pieces: crc = sbp_crc32c_update(SBP_CRC32C_INIT,
 * ...); crc = sbp_crc32c_update(crc, ...); result = crc ^ 0xFFFFFFFF. */
#define SBP_CRC32C_INIT 0xFFFFFFFFu
uint32_t sbp_crc32c_update(uint32_t crc, const uint8_t *data, size_t len);
uint32_t sbp_crc32c(const uint8_t *data, size_t len);

/* COBS-encode src[0 .. len) into dst (no delimiter written). dst may start before src in the same buffer as
 * long as src - dst >= 1 + len / 254: the encoder never overtakes its input. Returns false if dst_cap is
 * smaller than SBP_COBS_MAX_ENCODED(len). */
SBP_NODISCARD bool sbp_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_cap,
                                   size_t *dst_len);

/* COBS-decode src[0 .. len) (no delimiter) into dst. Fails with SBP_ERR_COBS on a 0x00 byte or a block that
 * runs past the end, SBP_ERR_OVERSIZE when dst_cap is too small. */
SBP_NODISCARD bool sbp_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_cap,
                                   size_t *dst_len, sbp_error_t *err);

#ifdef __cplusplus
}
#endif

#endif /* SBP_H */
