#!/usr/bin/env python3
"""Golden test vectors for the Striatum bridge protocol (SBP), written from the specification alone.

This is the independent reference: its own COBS, its own bitwise CRC-32C and struct.pack, no code shared with
the C library or the TypeScript codec. Both of those read the files it writes and must match them byte for byte.

    python3 make_vectors.py          # (re)write vectors/*.hex|json and vectors/bad/*
    python3 make_vectors.py --check  # exit 1 if any file on disk differs from what would be written

Each good vector NAME has NAME.hex (wire bytes as hex text, trailing 00 included) and NAME.json (the decoded
fields). Each bad vector has bad/NAME.hex, bad/NAME.json (what a decoder must report) and a line in
bad/README.md.
"""

import json
import pathlib
import re
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent

PROTOCOL_VERSION = 1
MAX_JOINTS = 16
FIRMWARE_ID_MAX = 32
FAULT_TEXT_MAX = 48
MAX_PAYLOAD = 1 + 4 + 1 + 16 * MAX_JOINTS + 1 + FIRMWARE_ID_MAX
MAX_BODY = 4 + MAX_PAYLOAD + 4
MAX_ENCODED = MAX_BODY + 1 + MAX_BODY // 254

TYPES = {
    "HELLO": 0x01, "HELLO_ACK": 0x02, "HEARTBEAT": 0x03, "COMMAND": 0x10, "STATE": 0x11,
    "ESTOP": 0x20, "ARM": 0x21, "FAULT": 0x22, "PARAM_GET": 0x30, "PARAM_SET": 0x31, "PARAM_VALUE": 0x32,
}
TYPE_NAMES = {v: k for k, v in TYPES.items()}

FLAG = {"ARMED": 1 << 0, "ESTOPPED": 1 << 1, "WATCHDOG_SAFE": 1 << 2, "FAULT": 1 << 3,
        "SAFE_DISABLED": 1 << 4, "STREAM_HEALTHY": 1 << 5, "HANDSHAKE_OK": 1 << 6, "LIMITED": 1 << 7}


# ---- primitives ------------------------------------------------------------------------------------------

def crc32c(data: bytes) -> int:
    """Bit by bit, straight from the definition: reflected polynomial 0x82F63B78, init and xor-out all ones."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def cobs_encode(data: bytes) -> bytes:
    """Split after every 0x00 and after every 254 non-zero bytes; each block is (length+1) then its data."""
    out = bytearray()
    block = bytearray()
    for byte in data:
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
        else:
            block.append(byte)
            if len(block) == 254:
                out.append(0xFF)
                out += block
                block.clear()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def cobs_decode(data: bytes):
    """Returns (body, error). Same order as a byte-at-a-time decoder: oversize as soon as the body outgrows
    MAX_BODY, a truncated block only at the end."""
    body = bytearray()
    i = 0
    prev = 0
    while i < len(data):
        code = data[i]
        i += 1
        if prev not in (0, 0xFF):
            if len(body) >= MAX_BODY:
                return None, "oversize"
            body.append(0)
        prev = code
        for _ in range(code - 1):
            if i >= len(data):
                return None, "cobs"
            if len(body) >= MAX_BODY:
                return None, "oversize"
            body.append(data[i])
            i += 1
    return bytes(body), None


def f32(x: float) -> float:
    """The value a binary32 holds for x, as a Python float (exact)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def frame(type_code: int, seq: int, payload: bytes, version: int = PROTOCOL_VERSION) -> bytes:
    body = struct.pack("<BBH", version, type_code, seq) + payload
    body += struct.pack("<I", crc32c(body))
    return cobs_encode(body) + b"\x00"


# ---- payloads, from schema.txt -----------------------------------------------------------------------------

def floats(values) -> bytes:
    return b"".join(struct.pack("<f", v) for v in values)


def payload_of(msg: dict) -> bytes:
    t = msg["type"]
    if t == "HELLO":
        return struct.pack("<BI", msg["protocol_version"], msg["schema_hash"])
    if t == "HELLO_ACK":
        out = struct.pack("<BIB", msg["protocol_version"], msg["schema_hash"], len(msg["limits"]))
        for lim in msg["limits"]:
            out += struct.pack("<ffff", lim["pos_min"], lim["pos_max"], lim["vel_max"], lim["effort_max"])
        ident = msg["firmware_id"].encode("utf-8")
        return out + struct.pack("<B", len(ident)) + ident
    if t in ("HEARTBEAT", "ESTOP", "ARM"):
        return b""
    if t == "COMMAND":
        return struct.pack("<BB", msg["mode"], len(msg["targets"])) + floats(msg["targets"])
    if t == "STATE":
        n = len(msg["positions"])
        assert len(msg["velocities"]) == n and len(msg["efforts"]) == n
        head = struct.pack("<QHHB", msg["mcu_time_us"], msg["flags"], msg["last_command_seq"], n)
        return head + floats(msg["positions"]) + floats(msg["velocities"]) + floats(msg["efforts"])
    if t == "FAULT":
        text = msg["text"].encode("utf-8")
        return struct.pack("<HB", msg["code"], len(text)) + text
    if t == "PARAM_GET":
        return struct.pack("<H", msg["id"])
    if t == "PARAM_SET":
        return struct.pack("<Hf", msg["id"], msg["value"])
    if t == "PARAM_VALUE":
        return struct.pack("<HfB", msg["id"], msg["value"], msg["result"])
    raise ValueError(t)


class Reject(Exception):
    pass


def decode_payload(type_code: int, seq: int, p: bytes) -> dict:
    """Fields in order; short -> length, count over maximum or undefined enum -> range, leftovers -> length."""
    pos = 0

    def take(fmt):
        nonlocal pos
        size = struct.calcsize(fmt)
        if pos + size > len(p):
            raise Reject("length")
        values = struct.unpack_from(fmt, p, pos)
        pos += size
        return values if len(values) > 1 else values[0]

    def take_bytes(n):
        nonlocal pos
        if pos + n > len(p):
            raise Reject("length")
        pos += n
        return p[pos - n:pos]

    def count(maximum):
        n = take("<B")
        if n > maximum:
            raise Reject("range")
        return n

    if type_code not in TYPE_NAMES:
        raise Reject("type")
    t = TYPE_NAMES[type_code]
    msg = {"type": t, "seq": seq}
    if t == "HELLO":
        msg["protocol_version"] = take("<B")
        msg["schema_hash"] = take("<I")
    elif t == "HELLO_ACK":
        msg["protocol_version"] = take("<B")
        msg["schema_hash"] = take("<I")
        n = count(MAX_JOINTS)
        msg["limits"] = [dict(zip(("pos_min", "pos_max", "vel_max", "effort_max"), take("<ffff")))
                         for _ in range(n)]
        m = count(FIRMWARE_ID_MAX)
        msg["firmware_id"] = take_bytes(m).decode()
    elif t == "COMMAND":
        msg["mode"] = take("<B")
        if msg["mode"] > 2:
            raise Reject("range")
        n = count(MAX_JOINTS)
        msg["targets"] = [take("<f") for _ in range(n)]
    elif t == "STATE":
        msg["mcu_time_us"] = take("<Q")
        msg["flags"] = take("<H")
        msg["last_command_seq"] = take("<H")
        n = count(MAX_JOINTS)
        for key in ("positions", "velocities", "efforts"):
            msg[key] = [take("<f") for _ in range(n)]
    elif t == "FAULT":
        msg["code"] = take("<H")
        msg["text"] = take_bytes(count(FAULT_TEXT_MAX)).decode()
    elif t == "PARAM_GET":
        msg["id"] = take("<H")
    elif t == "PARAM_SET":
        msg["id"] = take("<H")
        msg["value"] = take("<f")
    elif t == "PARAM_VALUE":
        msg["id"] = take("<H")
        msg["value"] = take("<f")
        msg["result"] = take("<B")
        if msg["result"] > 3:
            raise Reject("range")
    if pos != len(p):
        raise Reject("length")
    return msg


def reference_decode(wire: bytes) -> dict:
    """Split a byte stream at 0x00 and report what happened to each frame, in order."""
    result = {"frame_errors": [], "message_errors": [], "valid_messages": []}
    chunks = wire.split(b"\x00")
    assert chunks[-1] == b"", "every vector ends with a delimiter"
    for chunk in chunks[:-1]:
        if not chunk:
            continue  # empty frame: padding
        if len(chunk) > MAX_ENCODED:
            result["frame_errors"].append("oversize")
            continue
        body, err = cobs_decode(chunk)
        if err is None and len(body) < 8:
            err = "short"
        if err is None and crc32c(body[:-4]) != struct.unpack("<I", body[-4:])[0]:
            err = "crc"
        if err is None and body[0] != PROTOCOL_VERSION:
            err = "version"
        if err is not None:
            result["frame_errors"].append(err)
            continue
        try:
            msg = decode_payload(body[1], struct.unpack("<H", body[2:4])[0], body[4:-4])
            result["valid_messages"].append(msg["type"])
        except Reject as reject:
            result["message_errors"].append(str(reject))
    return result


# ---- the vectors ------------------------------------------------------------------------------------------

def schema_hash() -> int:
    return crc32c((ROOT / "schema.txt").read_bytes())


def no_zero_floats(start: float, step: float, n: int):
    """n binary32 values none of whose bytes is 0x00, so a body made of them is one long COBS run."""
    out = []
    x = start
    while len(out) < n:
        packed = struct.pack("<f", x)
        if 0 not in packed:
            out.append(f32(x))
        x += step
    return out


def good_vectors(hash_value: int):
    limits3 = [
        {"pos_min": -3.125, "pos_max": 3.125, "vel_max": 6.5, "effort_max": 12.25},
        {"pos_min": -1.5, "pos_max": 1.5, "vel_max": 2.0, "effort_max": 4.0},
        {"pos_min": 0.0, "pos_max": 0.75, "vel_max": 0.5, "effort_max": 1.5},
    ]
    nz = no_zero_floats(1.1, 0.37, 64)
    limits16 = [{"pos_min": -nz[4 * i], "pos_max": nz[4 * i + 1], "vel_max": nz[4 * i + 2],
                 "effort_max": nz[4 * i + 3]} for i in range(16)]
    six = [0.25, -0.5, 1.0, -1.75, 2.5, 0.125]
    return [
        ("hello", "handshake from the host",
         {"type": "HELLO", "seq": 1, "protocol_version": 1, "schema_hash": hash_value}),
        ("hello_ack", "MCU answer with 3 joints",
         {"type": "HELLO_ACK", "seq": 1, "protocol_version": 1, "schema_hash": hash_value, "limits": limits3,
          "firmware_id": "striatum-sim 0.1"}),
        ("hello_ack_max_long_run", "16 joints, 32-byte id: the largest payload, a COBS run of 254+ bytes",
         {"type": "HELLO_ACK", "seq": 0x0201, "protocol_version": 1, "schema_hash": 0x11223344,
          "limits": limits16, "firmware_id": "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"}),
        ("heartbeat", "empty payload", {"type": "HEARTBEAT", "seq": 2}),
        ("command_velocity", "velocity command, 2 joints",
         {"type": "COMMAND", "seq": 7, "mode": 1, "targets": [0.5, -1.25]}),
        ("command_position_zeros", "payload and seq full of 0x00 bytes",
         {"type": "COMMAND", "seq": 0, "mode": 0, "targets": [0.0, 0.0, 0.0]}),
        ("command_effort_max_joints", "16 joints, seq 65535 (wraps next)",
         {"type": "COMMAND", "seq": 65535, "mode": 2, "targets": [f32(0.1 * (i - 8)) for i in range(16)]}),
        ("state", "6 joints, time above 2^32 us",
         {"type": "STATE", "seq": 300, "mcu_time_us": 5000000123,
          "flags": FLAG["ARMED"] | FLAG["STREAM_HEALTHY"] | FLAG["HANDSHAKE_OK"], "last_command_seq": 299,
          "positions": six, "velocities": [v / 2 for v in six], "efforts": [v * 4 for v in six]}),
        ("state_max_joints", "16 joints, safe state flags",
         {"type": "STATE", "seq": 4242, "mcu_time_us": 123456789,
          "flags": FLAG["ESTOPPED"] | FLAG["WATCHDOG_SAFE"] | FLAG["SAFE_DISABLED"] | FLAG["HANDSHAKE_OK"],
          "last_command_seq": 4100, "positions": nz[0:16], "velocities": [-v for v in nz[16:32]],
          "efforts": nz[32:48]}),
        ("estop", "latch the safe state", {"type": "ESTOP", "seq": 11}),
        ("arm", "leave the safe state", {"type": "ARM", "seq": 12}),
        ("fault", "watchdog fault with text",
         {"type": "FAULT", "seq": 13, "code": 1, "text": "no COMMAND for 20 ms"}),
        ("fault_no_text", "firmware fault code, empty text", {"type": "FAULT", "seq": 14, "code": 0x8001, "text": ""}),
        ("param_get", "read the watchdog timeout", {"type": "PARAM_GET", "seq": 15, "id": 1}),
        ("param_set", "set the watchdog timeout to 25 ms", {"type": "PARAM_SET", "seq": 16, "id": 1, "value": 25.0}),
        ("param_value", "safe mode is disable",
         {"type": "PARAM_VALUE", "seq": 17, "id": 4, "value": 1.0, "result": 0}),
        ("param_value_refused", "refused while armed",
         {"type": "PARAM_VALUE", "seq": 18, "id": 1, "value": 20.0, "result": 3}),
    ]


def wire_of(msg: dict) -> bytes:
    return frame(TYPES[msg["type"]], msg["seq"], payload_of(msg))


def raw_body_frame(body: bytes) -> bytes:
    return cobs_encode(body) + b"\x00"


def bad_vectors():
    cmd = {"type": "COMMAND", "seq": 7, "mode": 1, "targets": [0.5, -1.25]}
    state = {"type": "STATE", "seq": 8, "mcu_time_us": 77, "flags": 0, "last_command_seq": 7,
             "positions": [1.5, 2.5], "velocities": [0.5, 0.25], "efforts": [3.0, 4.0]}
    heartbeat = wire_of({"type": "HEARTBEAT", "seq": 9})
    good_cmd = wire_of(cmd)

    body = bytearray(struct.pack("<BBH", 1, 0x10, 7) + payload_of(cmd))
    body += struct.pack("<I", crc32c(bytes(body)))
    flipped = bytearray(body)
    flipped[6] ^= 0x04  # a target byte; the CRC no longer matches
    bad_crc = raw_body_frame(bytes(flipped))

    state_wire = wire_of(state)
    truncated = state_wire[:-6] + b"\x00"  # last block cut short

    wrong_version = frame(0x10, 7, payload_of(cmd), version=2)
    delimiter_inside = good_cmd[:10] + b"\x00" + good_cmd[10:]

    def with_payload(type_code, payload, seq=20):
        return frame(type_code, seq, payload)

    return [
        ("bad_crc", "one payload bit flipped, COBS intact", bad_crc, "crc"),
        ("truncated", "STATE frame with its last 5 encoded bytes missing", truncated, "cobs"),
        ("short_body", "COBS-valid body of 5 bytes, less than header + CRC", raw_body_frame(b"\x01\x02\x03\x04\x05"),
         "short"),
        ("empty_body", "a lone code byte: empty body", b"\x01\x00", "short"),
        ("oversized", "400 non-zero bytes without a delimiter, then a valid HEARTBEAT",
         b"\x41" * 400 + b"\x00" + heartbeat, "oversize"),
        ("oversized_body", "305 encoded bytes that decode to a 304-byte body, then a valid HEARTBEAT",
         b"\x01" * 305 + b"\x00" + heartbeat, "oversize"),
        ("wrong_version", "version 2 with a correct CRC", wrong_version, "version"),
        ("garbage_then_delimiter", "line noise ended by a 0x00, then a valid COMMAND",
         b"\xde\xad\xbe\xef\x13\x37\x00" + good_cmd, "cobs"),
        ("garbage_glued_to_frame", "noise with no delimiter before a COMMAND (both lost), then a HEARTBEAT",
         b"\x02\xff\x05" + good_cmd + heartbeat, "crc"),
        ("delimiter_inside", "a 0x00 injected into a COMMAND splits it into two bad frames, then a HEARTBEAT",
         delimiter_inside + heartbeat, "cobs,cobs"),
        ("empty_frames", "0x00 padding around a valid COMMAND: no errors at all",
         b"\x00\x00\x00" + good_cmd + b"\x00\x00", ""),
        ("unknown_type", "sound frame of type 0x7F", with_payload(0x7F, b"\x01\x02"), "type"),
        ("command_bad_length", "COMMAND says 2 joints, carries 3 floats",
         with_payload(0x10, struct.pack("<BB", 0, 2) + floats([1.0, 2.0, 3.0])), "length"),
        ("command_too_many_joints", "COMMAND with 17 joints",
         with_payload(0x10, struct.pack("<BB", 0, 17) + floats([0.5] * 17)), "range"),
        ("command_bad_mode", "COMMAND with mode 3",
         with_payload(0x10, struct.pack("<BB", 3, 1) + floats([0.5])), "range"),
        ("state_missing_arrays", "STATE with 2 joints but only the positions",
         with_payload(0x11, struct.pack("<QHHB", 1, 0, 0, 2) + floats([1.0, 2.0])), "length"),
        ("hello_ack_id_too_long", "HELLO_ACK with a 33-byte firmware id",
         with_payload(0x02, struct.pack("<BIB", 1, 0, 0) + struct.pack("<B", 33) + b"x" * 33), "range"),
        ("heartbeat_with_payload", "HEARTBEAT carrying a byte", with_payload(0x03, b"\x01"), "length"),
    ]


# ---- output -----------------------------------------------------------------------------------------------

def hex_text(data: bytes) -> str:
    return data.hex() + "\n"


def json_text(obj) -> str:
    return json.dumps(obj) + "\n"


def longest_nonzero_run(data: bytes) -> int:
    return max(len(run) for run in data.split(b"\x00"))


def build() -> dict:
    files = {}
    hash_value = schema_hash()
    header = (ROOT / "include" / "sbp.h").read_text()
    declared = re.search(r"#define SBP_SCHEMA_HASH (0x[0-9A-Fa-f]{8})u", header)
    if declared is None or int(declared.group(1), 16) != hash_value:
        sys.exit("SBP_SCHEMA_HASH in include/sbp.h is not CRC-32C(schema.txt) = 0x%08X" % hash_value)

    index = []
    for name, what, msg in good_vectors(hash_value):
        wire = wire_of(msg)
        decoded = reference_decode(wire)
        assert decoded == {"frame_errors": [], "message_errors": [], "valid_messages": [msg["type"]]}, name
        body, _ = cobs_decode(wire[:-1])
        assert decode_payload(body[1], msg["seq"], body[4:-4]) == msg, name  # every float is exact in f32
        if name == "hello_ack_max_long_run":
            assert len(payload_of(msg)) == MAX_PAYLOAD and longest_nonzero_run(body) >= 254, name
        if name == "command_position_zeros":
            assert payload_of(msg).count(0) >= 12, name
        files[name + ".hex"] = hex_text(wire)
        files[name + ".json"] = json_text(msg)
        index.append("- `%s` (%d bytes on the wire): %s" % (name, len(wire), what))
    files["README.md"] = (
        "# Golden vectors\n\n"
        "Written by `make_vectors.py` (independent reference: own COBS, CRC-32C, struct.pack). `NAME.hex` is\n"
        "the frame on the wire as hex, trailing `00` included; `NAME.json` holds its decoded fields. Array\n"
        "lengths stand for the wire's count fields. Every float is exactly representable in binary32.\n"
        "The C tests and the TypeScript codec both decode each `.hex` to its `.json` and encode the `.json`\n"
        "back to the exact bytes. `bad/` holds frames a decoder must reject.\n\n" + "\n".join(index) + "\n")

    lines = []
    for name, what, wire, expected in bad_vectors():
        got = reference_decode(wire)
        errors = got["frame_errors"] + got["message_errors"]
        assert ",".join(errors) == expected, (name, got)
        files["bad/" + name + ".hex"] = hex_text(wire)
        files["bad/" + name + ".json"] = json_text(got)
        report = ", ".join(errors) if errors else "no error"
        after = (" then decode " + ", ".join(got["valid_messages"])) if got["valid_messages"] else ""
        lines.append("- `%s.hex`: %s. Report %s%s." % (name, what, report, after))
    files["bad/README.md"] = (
        "# Frames a decoder must reject\n\n"
        "Feed each `NAME.hex` as one byte stream. `NAME.json` lists, in order, the frame-level errors\n"
        "(`oversize`, `cobs`, `short`, `crc`, `version`: the frame is dropped), the message-level errors of\n"
        "sound frames (`type`, `length`, `range`) and the types of the messages that decode. Names are\n"
        "those of `sbp_code_name()` in C. The decoder must stay in step: frames after a bad one decode.\n\n"
        + "\n".join(lines) + "\n")
    return files


def main() -> int:
    check = "--check" in sys.argv[1:]
    files = build()
    stale = []
    for rel, text in sorted(files.items()):
        path = HERE / rel
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(rel)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if check:
        on_disk = {str(p.relative_to(HERE)) for p in HERE.rglob("*") if p.suffix in (".hex", ".json")}
        stale += sorted(on_disk - set(files))
        if stale:
            print("vectors out of date: " + ", ".join(stale), file=sys.stderr)
            return 1
        print("vectors up to date (%d files)" % len(files))
        return 0
    print("wrote %d files" % len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
