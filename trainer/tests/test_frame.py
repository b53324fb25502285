"""Tests for the object-goal frame (mlp_policy.ObjectGoalFrame): features of a hand-placed scene, a policy whose
command turns with the scene, the graph loaded back through policy.json, and bc.py → filtered_bc.py keeping it.

    /usr/bin/python3 -m unittest discover -s trainer/tests
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch

TRAINER = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TRAINER))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import awr  # noqa: E402
import common  # noqa: E402
import mlp_policy  # noqa: E402
from onnx_numpy import run_numpy  # noqa: E402
from test_awr import write_snapshot  # noqa: E402
from test_bc import write_dataset  # noqa: E402
from test_filtered_bc import PUSH_FIELDS  # noqa: E402

OBS_MEAN = np.array([0.4, 0.4, 0, 0, 0.4, 0.4, 0.4, 0.4], np.float32)
OBS_STD = np.array([0.14, 0.14, 0.14, 0.14, 0.14, 0.14, 0.19, 0.19], np.float32)
ACT_MEAN = np.array([0.01, -0.02], np.float32)
ACT_STD = np.array([0.14, 0.15], np.float32)


def random_frame_policy(seed: int = 0) -> mlp_policy.Policy:
    torch.manual_seed(seed)
    policy = mlp_policy.frame_policy(PUSH_FIELDS, OBS_MEAN, OBS_STD, 2, 1, 16, 2)
    scenes = torch.from_numpy((np.random.default_rng(seed).uniform(0.1, 0.7, (64, 8)).astype(np.float32) - OBS_MEAN) / OBS_STD)
    policy.set_frame_statistics(scenes, ACT_MEAN, ACT_STD)
    return policy


def transform(scene: np.ndarray, angle: float, shift: tuple[float, float]) -> np.ndarray:
    """The scene rotated by `angle` about the origin and shifted: points move, velocities only turn."""
    c, s = math.cos(angle), math.sin(angle)
    m = np.array([[c, -s], [s, c]])
    out = scene.copy()
    for start, is_point in ((0, True), (2, False), (4, True), (6, True)):
        out[start : start + 2] = m @ scene[start : start + 2] + (np.array(shift) if is_point else 0)
    return out


def command(policy: mlp_policy.Policy, scene: np.ndarray) -> np.ndarray:
    """What the robot does: normalize with the metadata, run, denormalize (m/s)."""
    with torch.no_grad():
        out = policy(torch.from_numpy(((scene - OBS_MEAN) / OBS_STD).astype(np.float32)[None]))[0, 0].numpy()
    return out * ACT_STD + ACT_MEAN


class FeaturesTest(unittest.TestCase):
    def test_a_scene_by_hand(self) -> None:
        # Block at (0.2, 0.2), pad at (0.2, 0.5): u = (0, 1), n = (−1, 0). Pusher at (0.25, 0.1), moving (0.1, 0.2).
        scene = np.array([0.25, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 0.5], np.float32)
        frame = mlp_policy.ObjectGoalFrame(mlp_policy.frame_columns(PUSH_FIELDS), OBS_MEAN, OBS_STD)
        features, u, n = frame(torch.from_numpy((scene - OBS_MEAN) / OBS_STD)[None])
        # s = offset·u = −0.1 (behind the block), l = offset·n = −0.05, d = 0.3, v·u = 0.2, v·n = −0.1.
        np.testing.assert_allclose(features[0].numpy(), [-0.1, -0.05, 0.3, 0.2, -0.1], atol=1e-5)
        np.testing.assert_allclose(u[0].numpy(), [0, 1], atol=1e-6)
        np.testing.assert_allclose(n[0].numpy(), [-1, 0], atol=1e-6)

    def test_a_goal_horizon_shows_a_far_goal_at_the_horizon(self) -> None:
        # The scene above with the pad 0.3 m from the block: with a 0.2 m horizon d reads 0.2, the rest is unchanged;
        # a pad 0.1 m away (inside the horizon) reads its true distance.
        frame = mlp_policy.ObjectGoalFrame(mlp_policy.frame_columns(PUSH_FIELDS), OBS_MEAN, OBS_STD, goal_horizon=0.2)
        far = np.array([0.25, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 0.5], np.float32)
        near = np.array([0.25, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 0.3], np.float32)
        features, u, _ = frame(torch.from_numpy((np.stack([far, near]) - OBS_MEAN) / OBS_STD))
        np.testing.assert_allclose(features[0].numpy(), [-0.1, -0.05, 0.2, 0.2, -0.1], atol=1e-5)
        np.testing.assert_allclose(features[1].numpy(), [-0.1, -0.05, 0.1, 0.2, -0.1], atol=1e-5)
        np.testing.assert_allclose(u.numpy(), [[0, 1], [0, 1]], atol=1e-6)
        with self.assertRaisesRegex(common.TrainerError, "goal horizon"):
            mlp_policy.ObjectGoalFrame(mlp_policy.frame_columns(PUSH_FIELDS), OBS_MEAN, OBS_STD, goal_horizon=0.0)

    def test_fields_it_cannot_place_are_refused(self) -> None:
        with self.assertRaisesRegex(common.TrainerError, "gripper"):
            mlp_policy.frame_columns([*PUSH_FIELDS, {"name": "gripper", "size": 1}])
        with self.assertRaisesRegex(common.TrainerError, "pad_position"):
            mlp_policy.frame_columns(PUSH_FIELDS[:3])


class EquivarianceTest(unittest.TestCase):
    def test_the_command_turns_and_moves_with_the_scene(self) -> None:
        policy = random_frame_policy()
        scene = np.array([0.3, 0.25, 0.05, -0.1, 0.35, 0.3, 0.55, 0.6], np.float32)
        base = command(policy, scene)
        self.assertGreater(np.linalg.norm(base), 1e-3)
        for angle, shift in ((math.pi / 2, (0.8, 0.0)), (0.7, (0.05, -0.1)), (-2.0, (0.6, 0.5))):
            moved = command(policy, transform(scene, angle, shift).astype(np.float32))
            c, s = math.cos(angle), math.sin(angle)
            np.testing.assert_allclose(moved, np.array([[c, -s], [s, c]]) @ base, atol=1e-5)

    def test_a_plain_mlp_does_not(self) -> None:
        # The property is the frame's: the same check fails for the MLP bc.py trains without it.
        torch.manual_seed(0)
        plain = mlp_policy.Policy(8, 2, 1, 16, 2)
        scene = np.array([0.3, 0.25, 0.05, -0.1, 0.35, 0.3, 0.55, 0.6], np.float32)
        moved = command(plain, transform(scene, 0.7, (0.05, -0.1)).astype(np.float32))
        c, s = math.cos(0.7), math.sin(0.7)
        self.assertGreater(np.abs(moved - np.array([[c, -s], [s, c]]) @ command(plain, scene)).max(), 1e-3)


class LoadTest(unittest.TestCase):
    def write(self, directory: Path, policy: mlp_policy.Policy) -> dict:
        model = mlp_policy.export_onnx(policy, 8)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "policy.onnx").write_bytes(model)
        meta = mlp_policy.policy_metadata(
            name="push-frame", version="f-1", task="push", created="2026-01-01T00:00:00Z", sha256="0" * 64, obs_dim=8,
            act_dim=2, chunk=1, meta={"observation_fields": PUSH_FIELDS, "action": {"mode": "velocity", "joints": ["x", "y"]}},
            obs_mean=OBS_MEAN, obs_std=OBS_STD, act_mean=ACT_MEAN, act_std=ACT_STD, training={"algorithm": "bc"},
            architecture=policy.architecture(),
        )
        (directory / "policy.json").write_text(json.dumps(meta))
        return meta

    def test_export_check_and_load_give_the_same_policy(self) -> None:
        policy = random_frame_policy(3)
        model = mlp_policy.export_onnx(policy, 8)
        self.assertEqual(mlp_policy.verify_onnx(model, policy, 8, 1, 2), "numpy")
        with tempfile.TemporaryDirectory() as tmp:
            meta = self.write(Path(tmp), policy)
            self.assertEqual(meta["training"]["architecture"]["frame"], "object-goal")
            loaded = awr.load_policy_weights(Path(tmp) / "policy.onnx", meta)
            self.assertIsNotNone(loaded.frame)
            x = np.random.default_rng(1).standard_normal((16, 8)).astype(np.float32)
            with torch.no_grad():
                np.testing.assert_allclose(loaded(torch.from_numpy(x)).numpy(), policy(torch.from_numpy(x)).numpy(), atol=1e-6)
            (graph_out,) = run_numpy(__import__("onnx").load(str(Path(tmp) / "policy.onnx")), {"observation": x})
            np.testing.assert_allclose(graph_out, policy(torch.from_numpy(x)).detach().numpy(), atol=1e-5)

    def test_a_goal_horizon_survives_export_and_load(self) -> None:
        torch.manual_seed(5)
        policy = mlp_policy.frame_policy(PUSH_FIELDS, OBS_MEAN, OBS_STD, 2, 1, 16, 2, goal_horizon=0.15)
        scenes = torch.from_numpy((np.random.default_rng(5).uniform(0.1, 0.7, (64, 8)).astype(np.float32) - OBS_MEAN) / OBS_STD)
        policy.set_frame_statistics(scenes, ACT_MEAN, ACT_STD)
        # Pads 0.3 and 0.45 m from the block, everything else equal: beyond the horizon, one command.
        a = np.array([0.3, 0.25, 0.05, -0.1, 0.35, 0.3, 0.35, 0.6], np.float32)
        b = np.array([0.3, 0.25, 0.05, -0.1, 0.35, 0.3, 0.35, 0.75], np.float32)
        np.testing.assert_allclose(command(policy, a), command(policy, b), atol=1e-6)
        self.assertGreater(np.abs(command(random_frame_policy(5), a) - command(random_frame_policy(5), b)).max(), 1e-4)
        with tempfile.TemporaryDirectory() as tmp:
            meta = self.write(Path(tmp), policy)
            self.assertEqual(meta["training"]["architecture"]["goal_horizon"], 0.15)
            loaded = awr.load_policy_weights(Path(tmp) / "policy.onnx", meta)
            self.assertEqual(loaded.frame.goal_horizon, 0.15)
            x = np.random.default_rng(2).standard_normal((16, 8)).astype(np.float32)
            (graph_out,) = run_numpy(__import__("onnx").load(str(Path(tmp) / "policy.onnx")), {"observation": x})
            with torch.no_grad():
                np.testing.assert_allclose(loaded(torch.from_numpy(x)).numpy(), graph_out, atol=1e-5)
            # policy.json that names no horizon describes another module: the load refuses it.
            meta["training"]["architecture"].pop("goal_horizon")
            with self.assertRaisesRegex(common.TrainerError, "differ"):
                awr.load_policy_weights(Path(tmp) / "policy.onnx", meta)

    def test_an_ensemble_of_frame_policies_exports_and_loads_as_their_mean(self) -> None:
        members = [random_frame_policy(3) for _ in range(3)]  # one frame and normalization, different weights
        for seed, member in zip((4, 5), members[1:]):
            torch.manual_seed(seed)
            for layer in member.net:
                if isinstance(layer, torch.nn.Linear):
                    layer.reset_parameters()
        with self.assertRaisesRegex(common.TrainerError, "one architecture"):  # members must share frame statistics
            mlp_policy.Ensemble([members[0], random_frame_policy(4)])
        ensemble = mlp_policy.Ensemble(members)
        model = mlp_policy.export_onnx(ensemble, 8)
        self.assertEqual(mlp_policy.verify_onnx(model, ensemble, 8, 1, 2), "numpy")
        with tempfile.TemporaryDirectory() as tmp:
            meta = self.write(Path(tmp), ensemble)
            self.assertEqual(meta["training"]["architecture"]["ensemble"], 3)
            loaded = awr.load_policy_weights(Path(tmp) / "policy.onnx", meta)
            self.assertIsInstance(loaded, mlp_policy.Ensemble)
            x = np.random.default_rng(1).standard_normal((16, 8)).astype(np.float32)
            with torch.no_grad():
                want = sum(m(torch.from_numpy(x)) for m in members).numpy() / 3
                for got, member in zip(loaded.members, members):  # each member back where it was
                    np.testing.assert_allclose(got(torch.from_numpy(x)).numpy(), member(torch.from_numpy(x)).numpy(), atol=1e-6)
            (graph_out,) = run_numpy(__import__("onnx").load(str(Path(tmp) / "policy.onnx")), {"observation": x})
            np.testing.assert_allclose(graph_out, want, atol=1e-5)
            # Metadata that names another member count is refused.
            meta["training"]["architecture"]["ensemble"] = 2
            with self.assertRaisesRegex(common.TrainerError, "not bc.py's MLP 2 times"):
                awr.load_policy_weights(Path(tmp) / "policy.onnx", meta)

    def test_metadata_that_disagrees_with_the_graph_is_refused(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            meta = self.write(Path(tmp), random_frame_policy(4))
            meta["training"]["architecture"]["feature_mean"][0] += 0.5
            with self.assertRaisesRegex(common.TrainerError, "differ from the module"):
                awr.load_policy_weights(Path(tmp) / "policy.onnx", meta)
            meta["training"]["architecture"]["frame"] = "polar"
            with self.assertRaisesRegex(common.TrainerError, "polar"):
                awr.load_policy_weights(Path(tmp) / "policy.onnx", meta)

    def test_a_framed_graph_without_its_architecture_is_refused(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            meta = self.write(Path(tmp), random_frame_policy(5))
            del meta["training"]["architecture"]
            with self.assertRaisesRegex(common.TrainerError, "not part of bc.py's MLP"):
                awr.load_policy_weights(Path(tmp) / "policy.onnx", meta)


class TrainAndContinueTest(unittest.TestCase):
    def test_bc_trains_a_framed_policy_and_filtered_bc_continues_it(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_dataset(root / "data", episodes=6, steps=30)
            bc = subprocess.run(
                [sys.executable, str(TRAINER / "bc.py"), "--data", str(root / "data"), "--out", str(root / "base"),
                 "--epochs", "3", "--hidden", "16", "--val-fraction", "0", "--frame", "object-goal", "--goal-horizon", "0.2",
                 "--threads", "1"],
                capture_output=True, text=True, timeout=300,
            )
            self.assertEqual(bc.returncode, 0, bc.stderr)
            base_meta = json.loads((root / "base" / "policy.json").read_text())
            self.assertEqual(base_meta["training"]["architecture"]["frame"], "object-goal")
            self.assertEqual(base_meta["training"]["architecture"]["goal_horizon"], 0.2)
            self.assertIn("seen at 0.2 m", (root / "base" / "policy.card.md").read_text())
            self.assertEqual(json.loads(bc.stdout.splitlines()[-1])["onnx_check"], "numpy")

            write_snapshot(root / "snap", episodes=4, steps=20)
            manifest = json.loads((root / "snap" / "manifest.json").read_text())
            manifest["observation_fields"] = PUSH_FIELDS
            manifest["action"]["joints"] = base_meta["action"]["joints"]
            (root / "snap" / "manifest.json").write_text(json.dumps(manifest))
            obs = np.random.default_rng(2).uniform(0.1, 0.7, (80, 8)).astype(np.float32)
            np.save(root / "snap" / "observations.npy", obs)
            fbc = subprocess.run(
                [sys.executable, str(TRAINER / "filtered_bc.py"), "--data", str(root / "snap"), "--base", str(root / "base"),
                 "--out", str(root / "r1"), "--state", str(root / "state"), "--updates", "20", "--batch-size", "16", "--threads", "1"],
                capture_output=True, text=True, timeout=300,
            )
            self.assertEqual(fbc.returncode, 0, fbc.stderr)
            meta = json.loads((root / "r1" / "policy.json").read_text())
            self.assertEqual(meta["training"]["architecture"]["frame"], "object-goal")
            self.assertEqual(meta["training"]["architecture"]["feature_mean"], base_meta["training"]["architecture"]["feature_mean"])
            self.assertEqual(meta["training"]["architecture"]["goal_horizon"], 0.2, "the continued policy keeps the horizon")
            loaded = awr.load_policy_weights(root / "r1" / "policy.onnx", meta)
            self.assertIsNotNone(loaded.frame)

    def test_a_goal_horizon_without_the_frame_is_refused(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            result = subprocess.run(
                [sys.executable, str(TRAINER / "bc.py"), "--data", tmp, "--out", str(Path(tmp) / "out"), "--goal-horizon", "0.2"],
                capture_output=True, text=True, timeout=120,
            )
            self.assertEqual(result.returncode, 2)
            self.assertIn("--goal-horizon", result.stderr)
            self.assertFalse((Path(tmp) / "out").exists())


if __name__ == "__main__":
    unittest.main()
