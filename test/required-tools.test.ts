// A tool a test needs and cannot find fails that test with the Debian package to install; it never skips.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MissingToolError, requireCommand, requireCycloneDds, requireMosquitto, requirePostgres, requirePython } from './helpers/required-tools.js';

test('a missing command is a MissingToolError naming its Debian packages', () => {
  assert.throws(() => requireCommand('striatum-no-such-tool', ['socat']), (err: unknown) => {
    assert.ok(err instanceof MissingToolError);
    assert.deepEqual(err.packages, ['socat']);
    return true;
  });
});

test('a Python module that does not import names the python3- package', () => {
  assert.throws(() => requirePython(['striatum_no_such_module']), (err: unknown) => {
    assert.ok(err instanceof MissingToolError);
    assert.deepEqual(err.packages, ['python3', 'python3-striatum_no_such_module']);
    return true;
  });
});

test('the tools .ci/run installs are here: Debian python3 with numpy, torch and onnx; mosquitto; cmake; Cyclone DDS; postgresql', () => {
  requirePython(['numpy', 'torch', 'onnx']);
  requireCommand('cmake', ['cmake']);
  requireMosquitto();
  requireCycloneDds();
  requirePostgres();
});
