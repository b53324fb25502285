"""Tests for trainer/awr.py: returns at terminals vs truncations by hand, weight clipping, loading bc.py's ONNX,
and a tiny end-to-end round in a subprocess.

    /usr/bin/python3 -m unittest discover -s trainer/tests
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import typing
import unittest
from pathlib import Path

import numpy as np
import onnx
import torch

TRAINER = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TRAINER))
import awr  # noqa: E402
import mlp_policy  # noqa: E402

FIELDS = [{"name": "joint_positions", "size": 2}, {"name": "block_position", "size": 2}]
ACTION = {"mode": "velocity", "joints": ["shoulder", "elbow"]}


def write_base_policy(directory: Path, hidden: int = 16, layers: int = 2, chunk: int = 1, seed: int = 0,
                      fields: list[dict[str, typing.Any]] = FIELDS) -> mlp_policy.Policy:
    """A random mlp_policy.Policy exported exactly as bc.py exports it, with its metadata (observation `fields`)."""
    obs_dim = sum(int(f["size"]) for f in fields)
    torch.manual_seed(seed)
    policy = mlp_policy.Policy(obs_dim, 2, chunk, hidden, layers)
    model = mlp_policy.export_onnx(policy, obs_dim)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "policy.onnx").write_bytes(model)
    meta = mlp_policy.policy_metadata(
        name="push-bc", version="bc-1", task="push", created="2026-01-01T00:00:00Z",
        sha256=hashlib.sha256(model).hexdigest(), obs_dim=obs_dim, act_dim=2, chunk=chunk,
        meta={"observation_fields": fields, "action": ACTION},
        obs_mean=np.zeros(obs_dim, np.float32), obs_std=np.ones(obs_dim, np.float32),
        act_mean=np.zeros(2, np.float32), act_std=np.ones(2, np.float32), training={"algorithm": "bc"},
    )
    (directory / "policy.json").write_text(json.dumps(meta))
    return policy


def write_snapshot(directory: Path, episodes: int = 8, steps: int = 40, seed: int = 0) -> None:
    """Episodes whose reward is higher where the action is closer to a fixed linear function of the observation."""
    rng = np.random.default_rng(seed)
    n = episodes * steps
    obs = rng.standard_normal((n, 4)).astype(np.float32)
    good = obs[:, :2] * 0.5
    act = (good + rng.standard_normal((n, 2)) * 0.3).astype(np.float32)
    reward = (-np.square(act - good).sum(axis=1)).astype(np.float32)
    index = np.repeat(np.arange(episodes), steps).astype(np.int32)
    terminals = np.zeros(n, np.int32)
    truncations = np.zeros(n, np.int32)
    terminals[steps - 1 :: 2 * steps] = 1  # even episodes end in a true terminal
    truncations[2 * steps - 1 :: 2 * steps] = 1  # odd ones at the time limit
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in (("observations", obs), ("actions", act), ("rewards", reward), ("terminals", terminals),
                        ("truncations", truncations), ("episode_index", index)):
        np.save(directory / f"{name}.npy", array)
    manifest = {
        "format": awr.SNAPSHOT_FORMAT, "task": "push", "gamma": 0.9, "observation_fields": FIELDS, "action": ACTION,
        "episodes": [{"index": e, "steps": steps, "success": e % 2 == 0} for e in range(episodes)],
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))


class ReturnsTest(unittest.TestCase):
    def test_terminal_tail_is_zero_and_truncation_bootstraps(self) -> None:
        rewards = np.array([1.0, 0.0, 2.0, 1.0, 1.0])
        terminals = np.array([0, 0, 1, 0, 0], bool)  # episode 0 ends in a terminal; episode 1 is truncated
        index = np.array([0, 0, 0, 1, 1])
        tail = np.array([9.0, 9.0, 9.0, 9.0, 10.0])  # V(s) of each row; only the last of episode 1 is read
        g = awr.discounted_returns(rewards, terminals, index, tail, gamma=0.5)
        # Episode 0 by hand: G2 = 2, G1 = 0 + 0.5*2 = 1, G0 = 1 + 0.5*1 = 1.5 (V = 9 never enters).
        # Episode 1: G4 = 1 + 0.5*10 = 6, G3 = 1 + 0.5*6 = 4.
        np.testing.assert_allclose(g, [1.5, 1.0, 2.0, 4.0, 6.0])

    def test_advantages_are_in_units_of_their_std(self) -> None:
        a = awr.normalized_advantages(np.array([1.0, 3.0]), np.array([0.0, 0.0]))
        np.testing.assert_allclose(a, [1.0, 3.0])  # std of [1, 3] is 1
        np.testing.assert_allclose(awr.normalized_advantages(np.ones(3), np.ones(3)), np.zeros(3))

    def test_weights_are_exp_over_beta_clipped_at_w_max(self) -> None:
        w = awr.awr_weights(np.array([-1.0, 0.0, 1.0, 5.0, 1e6]), beta=2.0, w_max=2.0)
        np.testing.assert_allclose(w, [np.exp(-0.5), 1.0, np.exp(0.5), 2.0, 2.0])
        self.assertTrue(np.isfinite(w).all())


class LoadWeightsTest(unittest.TestCase):
    def test_loaded_actor_reproduces_the_exported_policy(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            for layers, chunk in ((2, 1), (3, 4)):
                base = Path(tmp) / f"base-{layers}-{chunk}"
                original = write_base_policy(base, layers=layers, chunk=chunk)
                meta = json.loads((base / "policy.json").read_text())
                loaded = awr.load_policy_weights(base / "policy.onnx", meta)
                x = torch.from_numpy(np.random.default_rng(1).standard_normal((7, 4)).astype(np.float32))
                with torch.no_grad():
                    np.testing.assert_allclose(loaded(x).numpy(), original(x).numpy(), rtol=1e-6, atol=1e-6)
                model = onnx.load(str(base / "policy.onnx"))
                numpy_out = mlp_policy.run_numpy(model, {"observation": x.numpy()})
                assert numpy_out is not None
                np.testing.assert_allclose(loaded(x).detach().numpy(), numpy_out[0], rtol=1e-5, atol=1e-5)

    def test_refuses_another_architecture(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp) / "base"
            write_base_policy(base)
            meta = json.loads((base / "policy.json").read_text())
            meta["inputs"][0]["shape"] = [-1, 5]
            with self.assertRaisesRegex(awr.TrainerError, "metadata says 5"):
                awr.load_policy_weights(base / "policy.onnx", meta)
            model = onnx.load(str(base / "policy.onnx"))
            next(n for n in model.graph.node if n.op_type == "Relu").op_type = "Tanh"
            onnx.save(model, str(base / "policy.onnx"))
            with self.assertRaisesRegex(awr.TrainerError, "op Tanh"):
                awr.load_policy_weights(base / "policy.onnx", json.loads((base / "policy.json").read_text()))


class SmokeTest(unittest.TestCase):
    def test_a_tiny_round_exports_a_checked_model_with_valid_metadata(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            base, data, out = Path(tmp) / "base", Path(tmp) / "snap", Path(tmp) / "out"
            write_base_policy(base)
            write_snapshot(data)  # 320 rows, batch 32: 10 actor + 10 value steps per epoch, 30 epochs = 600
            result = subprocess.run(
                [sys.executable, str(TRAINER / "awr.py"), "--data", str(data), "--base", str(base), "--out", str(out),
                 "--epochs", "30", "--batch-size", "32", "--lr", "1e-3", "--value-hidden", "16", "--threads", "1"],
                capture_output=True, text=True, timeout=300,
            )
            self.assertEqual(result.returncode, 0, result.stderr)
            lines = [json.loads(line) for line in result.stdout.splitlines()]
            progress = [r for r in lines if r["event"] == "progress"]
            self.assertEqual([r["epoch"] for r in progress], list(range(1, 31)))
            for key in ("charts/weight_mean", "losses/actor", "losses/value", "perf/epoch_s"):
                self.assertIn(key, progress[0])
            done = lines[-1]
            self.assertEqual(done["event"], "done")
            self.assertEqual(done["parent_version"], "bc-1")
            self.assertLess(progress[-1]["losses/value"], progress[0]["losses/value"])

            model_bytes = (out / "policy.onnx").read_bytes()
            onnx.checker.check_model(onnx.load_model_from_string(model_bytes), full_check=True)
            meta = json.loads((out / "policy.json").read_text())
            self.assertEqual(meta["format"], mlp_policy.METADATA_FORMAT)
            self.assertEqual(meta["sha256"], hashlib.sha256(model_bytes).hexdigest())
            self.assertEqual(meta["observation"]["fields"], FIELDS)
            self.assertEqual(meta["action"]["joints"], ACTION["joints"])
            self.assertEqual(meta["outputs"][0]["shape"], [-1, 1, 2])
            self.assertEqual(meta["training"]["algorithm"], "awr")
            self.assertEqual(meta["training"]["parent_version"], "bc-1")
            self.assertTrue(meta["version"].startswith("awr-"))
            self.assertTrue((out / "policy.card.md").is_file())

    def test_bad_snapshot_is_one_line_and_exit_1(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            base, data = Path(tmp) / "base", Path(tmp) / "snap"
            write_base_policy(base)
            write_snapshot(data)
            np.save(data / "rewards.npy", np.zeros(3, np.float32))
            result = subprocess.run(
                [sys.executable, str(TRAINER / "awr.py"), "--data", str(data), "--base", str(base), "--out", str(Path(tmp) / "o")],
                capture_output=True, text=True, timeout=120,
            )
            self.assertEqual(result.returncode, 1)
            self.assertRegex(result.stderr.strip(), r"^awr\.py: error: row counts differ")


if __name__ == "__main__":
    unittest.main()
