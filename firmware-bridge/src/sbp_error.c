/* sbp_error.c — first-error-wins reporting and the names of codes and message types. */
#include "sbp.h"

bool sbp_fail(sbp_error_t *err, sbp_code_t code, const char *msg) {
  if (err != NULL && err->code == SBP_OK) {
    err->code = code;
    err->msg = msg;
  }
  return false;
}

const char *sbp_code_name(sbp_code_t code) {
  switch (code) {
    case SBP_OK: return "ok";
    case SBP_ERR_OVERSIZE: return "oversize";
    case SBP_ERR_COBS: return "cobs";
    case SBP_ERR_SHORT: return "short";
    case SBP_ERR_CRC: return "crc";
    case SBP_ERR_VERSION: return "version";
    case SBP_ERR_TYPE: return "type";
    case SBP_ERR_LENGTH: return "length";
    case SBP_ERR_RANGE: return "range";
    case SBP_ERR_BUFFER: return "buffer";
    case SBP_ERR_ARGUMENT: return "argument";
  }
  return "unknown";
}

const char *sbp_type_name(uint8_t type) {
  switch (type) {
    case SBP_HELLO: return "HELLO";
    case SBP_HELLO_ACK: return "HELLO_ACK";
    case SBP_HEARTBEAT: return "HEARTBEAT";
    case SBP_COMMAND: return "COMMAND";
    case SBP_STATE: return "STATE";
    case SBP_ESTOP: return "ESTOP";
    case SBP_ARM: return "ARM";
    case SBP_FAULT: return "FAULT";
    case SBP_PARAM_GET: return "PARAM_GET";
    case SBP_PARAM_SET: return "PARAM_SET";
    case SBP_PARAM_VALUE: return "PARAM_VALUE";
    default: return NULL;
  }
}
