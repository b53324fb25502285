// The schema hash the host sends in HELLO is computed from firmware-bridge/schema.txt at start-up; it must equal
// SBP_SCHEMA_HASH in sbp.h (what the firmware is built with) and the hash in the golden HELLO vector.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readSchemaHash, SBP_SCHEMA_FILE, schemaHashOf } from '../src/transports/serial/schema-hash.js';
import { isStriatumError } from '../src/errors.js';

const BRIDGE = fileURLToPath(new URL('../../firmware-bridge/', import.meta.url));

test('CRC-32C of schema.txt equals SBP_SCHEMA_HASH in sbp.h and the HELLO vector', () => {
  const header = readFileSync(`${BRIDGE}include/sbp.h`, 'utf8');
  const m = /#define\s+SBP_SCHEMA_HASH\s+0x([0-9A-Fa-f]{8})u?/.exec(header);
  assert.ok(m, 'SBP_SCHEMA_HASH is defined in sbp.h');
  const inHeader = parseInt(m[1], 16);
  assert.equal(readSchemaHash(), inHeader);
  assert.equal(schemaHashOf(readFileSync(`${BRIDGE}schema.txt`)), inHeader);
  const hello = JSON.parse(readFileSync(`${BRIDGE}vectors/hello.json`, 'utf8')) as { schema_hash: number };
  assert.equal(hello.schema_hash, inHeader);
  assert.equal(SBP_SCHEMA_FILE, `${BRIDGE}schema.txt`);
});

test('a missing schema file is a transport error naming the path', () => {
  assert.throws(() => readSchemaHash('/nonexistent/schema.txt'), (e) => isStriatumError(e, 'STRIATUM_ERR_TRANSPORT') && /nonexistent/.test(e.message));
});
