"""Tests for trainer/filtered_bc.py and the square's symmetries in common.py: which episodes are imitated, the
8 images of a hand-written state, and two rounds end to end (the second continues the first's optimiser) whose
policy imitates the successful episodes and not the failed ones.

    /usr/bin/python3 -m unittest discover -s trainer/tests
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import onnx

TRAINER = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TRAINER))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import awr  # noqa: E402
import common  # noqa: E402
import filtered_bc  # noqa: E402
import mlp_policy  # noqa: E402
import torch  # noqa: E402  (after common: it sets OMP_WAIT_POLICY before torch loads)
from test_awr import write_base_policy, write_snapshot  # noqa: E402

PUSH_FIELDS = [
    {"name": "joint_positions", "size": 2}, {"name": "joint_velocities", "size": 2},
    {"name": "block_position", "size": 2}, {"name": "pad_position", "size": 2},
]


class FilterTest(unittest.TestCase):
    def test_demonstrations_always_robot_episodes_only_when_they_end_in_a_true_terminal(self) -> None:
        index = np.array([0, 0, 1, 1, 1, 2, 2, 3, 3])
        terminals = np.array([0, 0, 0, 0, 1, 0, 0, 0, 1], bool)  # 1 and 3 end in success, 0 and 2 do not
        keep, kept = filtered_bc.kept_rows(index, terminals, demo_episodes={0})
        self.assertEqual(keep.tolist(), [True, True, True, True, True, False, False, True, True])
        self.assertEqual(kept, [1, 3])

    def test_tail_steps_keep_the_end_of_successful_robot_episodes_and_whole_demonstrations(self) -> None:
        # Demonstration 0 (4 rows), success 1 (5 rows), failure 2 (2 rows), success 3 (1 row, shorter than the tail).
        index = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 3])
        terminals = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1], bool)
        keep, kept = filtered_bc.kept_rows(index, terminals, demo_episodes={0}, tail_steps=2)
        self.assertEqual(keep.tolist(), [True] * 4 + [False, False, False, True, True] + [False, False] + [True])
        self.assertEqual(kept, [1, 3])

    def test_top_fraction_keeps_the_kept_robot_episodes_with_the_highest_discounted_return(self) -> None:
        # Demonstration 0; successes 1, 2 and 4; failure 3. γ = 0.5. Returns by hand:
        # ep 1: 0 + 0.5·0 + 0.25·1 = 0.25; ep 2: 0 + 0.5·2 = 1.0; ep 4: 0.4 (one row). Failure 3 is never kept.
        index = np.array([0, 0, 1, 1, 1, 2, 2, 3, 3, 4])
        terminals = np.array([0, 1, 0, 0, 1, 0, 1, 0, 0, 1], bool)
        rewards = np.array([0, 9, 0, 0, 1, 0, 2, 5, 5, 0.4])
        keep, kept = filtered_bc.kept_rows(index, terminals, demo_episodes={0})
        half, best = filtered_bc.top_by_return(keep, kept, index, rewards, gamma=0.5, fraction=0.5)
        self.assertEqual(best, [2, 4])  # ceil(0.5 · 3) = 2: returns 1.0 and 0.4 beat 0.25, listed in episode order
        self.assertEqual(half.tolist(), [True, True, False, False, False, True, True, False, False, True])
        third, best = filtered_bc.top_by_return(keep, kept, index, rewards, gamma=0.5, fraction=0.3)
        self.assertEqual(best, [2])
        self.assertEqual(third.tolist(), [True, True] + [False] * 3 + [True, True] + [False] * 3)
        every, best = filtered_bc.top_by_return(keep, kept, index, rewards, gamma=0.5, fraction=1.0)
        self.assertEqual((every.tolist(), best), (keep.tolist(), kept))

    def test_a_terminal_before_the_last_row_does_not_count(self) -> None:
        # Only an episode's last row can end it; a stray mark in the middle is not a success.
        keep, kept = filtered_bc.kept_rows(np.array([0, 0, 0]), np.array([0, 1, 0], bool), demo_episodes=set())
        self.assertFalse(keep.any())
        self.assertEqual(kept, [])


class ProgressFilterTest(unittest.TestCase):
    def test_steps_followed_by_enough_progress_by_hand(self) -> None:
        # Episode 0: Φ′ = 0.1, 0.1, 0.2, 0.3, 0.3, 0.3; episode 1: 0.5, 0.4, 0.4, 0.6. Horizon 2, minimum 0.1.
        progress = np.array([0.1, 0.1, 0.2, 0.3, 0.3, 0.3, 0.5, 0.4, 0.4, 0.6])
        index = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
        keep = filtered_bc.progress_rows(progress, index, horizon=2, minimum=0.1)
        # Row t: max(Φ′_t, Φ′_{t+1}) − Φ′_{t−1} (Φ′_{t−1} = Φ′_t on the first row), within the episode:
        # ep 0: 0.1−0.1=0, 0.2−0.1=0.1 ✓, 0.3−0.1=0.2 ✓, 0.3−0.2=0.1 ✓, 0.3−0.3=0, 0.3−0.3=0
        # ep 1: 0.5−0.5=0 (never reads episode 0's rows), 0.4−0.5<0, 0.6−0.4=0.2 ✓, 0.6−0.4=0.2 ✓
        self.assertEqual(keep.tolist(), [False, True, True, True, False, False, False, False, True, True])

    def test_horizon_one_is_the_step_itself(self) -> None:
        keep = filtered_bc.progress_rows(np.array([0.0, 0.2, 0.2, 0.5]), np.zeros(4, int), horizon=1, minimum=0.2)
        self.assertEqual(keep.tolist(), [False, True, False, True])


class SymmetryTest(unittest.TestCase):
    def test_eight_images_of_a_state_by_hand(self) -> None:
        # pusher (0.5, 0.3) moving (0.1, 0), block (0.6, 0.4), pad (0.2, 0.7), command (0.1, −0.2); centre 0.4.
        obs = np.array([[0.5, 0.3, 0.1, 0.0, 0.6, 0.4, 0.2, 0.7]], np.float32)
        act = np.array([[0.1, -0.2]], np.float32)
        o, a = common.augment_square_d4(obs, act, PUSH_FIELDS, "velocity", 0.4)
        self.assertEqual(o.shape, (8, 8))
        self.assertEqual(a.shape, (8, 2))
        np.testing.assert_allclose(o[0], obs[0], atol=1e-6)  # identity first
        np.testing.assert_allclose(a[0], act[0], atol=1e-6)
        # Mirror x about 0.4 (matrix diag(−1, 1)): x → 0.8 − x, vx → −vx.
        mirror = [0.3, 0.3, -0.1, 0.0, 0.2, 0.4, 0.6, 0.7]
        self.assertTrue(any(np.allclose(row, mirror, atol=1e-6) for row in o))
        # Swap the axes (the diagonal reflection): (x, y) → (y, x), for points and vectors alike.
        swap = [0.3, 0.5, 0.0, 0.1, 0.4, 0.6, 0.7, 0.2]
        k = next(i for i, row in enumerate(o) if np.allclose(row, swap, atol=1e-6))
        np.testing.assert_allclose(a[k], [-0.2, 0.1], atol=1e-6)
        # All eight are different, and each keeps the block-to-pad distance and the command's length.
        self.assertEqual(len({tuple(np.round(row, 5)) for row in o}), 8)
        np.testing.assert_allclose(np.hypot(o[:, 4] - o[:, 6], o[:, 5] - o[:, 7]), np.hypot(0.4, 0.3), atol=1e-6)
        np.testing.assert_allclose(np.hypot(a[:, 0], a[:, 1]), np.hypot(0.1, 0.2), atol=1e-6)

    def test_refuses_fields_and_modes_it_cannot_transform(self) -> None:
        obs = np.zeros((1, 3), np.float32)
        with self.assertRaisesRegex(common.TrainerError, "gripper"):
            common.augment_square_d4(obs, np.zeros((1, 2), np.float32), [{"name": "gripper", "size": 3}], "velocity", 0.4)
        with self.assertRaisesRegex(common.TrainerError, "position mode"):
            common.augment_square_d4(np.zeros((1, 8), np.float32), np.zeros((1, 2), np.float32), PUSH_FIELDS, "position", 0.4)


class VelocityNoiseTest(unittest.TestCase):
    def test_noise_only_on_the_velocity_columns_in_normalized_units(self) -> None:
        std = np.array([0.1, 0.2, 0.05, 0.02, 0.3, 0.3, 0.3, 0.3], np.float32)
        scale = common.velocity_noise_scale(PUSH_FIELDS, std, 0.01)
        np.testing.assert_allclose(scale, [0, 0, 0.2, 0.5, 0, 0, 0, 0], rtol=1e-6)
        self.assertFalse(common.velocity_noise_scale(PUSH_FIELDS, std, 0.0).any())
        with self.assertRaisesRegex(common.TrainerError, "needs an observation field named joint_velocities"):
            common.velocity_noise_scale([{"name": "joint_positions", "size": 2}], std[:2], 0.01)


def run_round(data: Path, base: Path, out: Path, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TRAINER / "filtered_bc.py"), "--data", str(data), "--base", str(base), "--out", str(out),
         "--state", str(state), "--updates", "300", "--batch-size", "64", "--threads", "1", "--demo-version", "demo", *extra],
        capture_output=True, text=True, timeout=300,
    )


def mark_first_as_demonstration(data: Path) -> None:
    """Episode 0 of the snapshot becomes a demonstration (policy version "demo"), the others robot episodes."""
    manifest = json.loads((data / "manifest.json").read_text())
    for e in manifest["episodes"]:
        e["policy_versions"] = ["demo"] if e["index"] == 0 else ["bc-1"]
    (data / "manifest.json").write_text(json.dumps(manifest))


def write_labelled_snapshot(base: Path, data: Path) -> None:
    """A base policy and 8 episodes of 40 steps: episode 0 a demonstration; even episodes end in a true terminal and
    command (+0.5, +0.5), odd ones time out and command (−0.5, −0.5), so only the first may be learned."""
    write_base_policy(base)
    write_snapshot(data, episodes=8, steps=40)
    mark_first_as_demonstration(data)
    index = np.load(data / "episode_index.npy")
    np.save(data / "actions.npy", np.where((index % 2 == 0)[:, None], 0.5, -0.5).astype(np.float32) * np.ones((1, 2), np.float32))


def write_copycat_snapshot(base: Path, data: Path) -> None:
    """Episodes in which the measured joint velocity is a fifth of the last command, exactly, and the command is +0.5
    where the first joint's position is positive and −0.5 where it is negative: a clone can read it off either."""
    fields = [{"name": "joint_positions", "size": 2}, {"name": "joint_velocities", "size": 2}]
    write_base_policy(base, hidden=32, fields=fields)
    write_snapshot(data, episodes=8, steps=40)
    manifest = json.loads((data / "manifest.json").read_text())
    manifest["observation_fields"] = fields
    (data / "manifest.json").write_text(json.dumps(manifest))
    mark_first_as_demonstration(data)
    obs = np.load(data / "observations.npy")
    command = np.repeat(0.5 * np.sign(obs[:, :1]), 2, axis=1).astype(np.float32)
    obs[:, 2:4] = 0.2 * command
    np.save(data / "observations.npy", obs)
    np.save(data / "actions.npy", command)
    terminals = np.zeros(len(obs), np.int32)
    terminals[39::40] = 1  # every episode ends in success
    np.save(data / "terminals.npy", terminals)


class SmokeTest(unittest.TestCase):
    def test_two_rounds_imitate_successes_not_failures_and_the_second_continues_the_first(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            base, data, state = Path(tmp) / "base", Path(tmp) / "snap", Path(tmp) / "state"
            write_labelled_snapshot(base, data)

            first = run_round(data, base, Path(tmp) / "r1", state)
            self.assertEqual(first.returncode, 0, first.stderr)
            done = json.loads(first.stdout.strip().splitlines()[-1])
            self.assertEqual(done["event"], "done")
            self.assertEqual(done["robot_episodes_kept"], 3)  # episodes 2, 4, 6 (0 is the demonstration)
            model = onnx.load(str(Path(tmp) / "r1" / "policy.onnx"))
            onnx.checker.check_model(model, full_check=True)
            obs = np.load(data / "observations.npy")
            out = mlp_policy.run_numpy(model, {"observation": obs})
            assert out is not None
            self.assertGreater(float(out[0].mean()), 0.4)  # the successes' command, not the failures'

            meta = json.loads((Path(tmp) / "r1" / "policy.json").read_text())
            second = run_round(data, Path(tmp) / "r1", Path(tmp) / "r2", state)
            self.assertEqual(second.returncode, 0, second.stderr)
            t = json.loads((Path(tmp) / "r2" / "policy.json").read_text())["training"]
            self.assertEqual(t["round"], 2)
            self.assertEqual(t["parent_version"], meta["version"])
            self.assertEqual(t["optimizer_from"], "learner state")
            self.assertEqual(t["gradient_steps_total"], 600)

    def test_an_ensemble_releases_the_mean_of_its_members_and_the_next_round_continues_it(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            base, data, state = Path(tmp) / "base", Path(tmp) / "snap", Path(tmp) / "state"
            write_labelled_snapshot(base, data)

            first = run_round(data, base, Path(tmp) / "r1", state, "--ensemble", "3")
            self.assertEqual(first.returncode, 0, first.stderr)
            meta = json.loads((Path(tmp) / "r1" / "policy.json").read_text())
            self.assertEqual(meta["training"]["architecture"]["ensemble"], 3)
            self.assertEqual(meta["training"]["ensemble"], 3)
            self.assertIn("each of 3 MLPs on its own batches", (Path(tmp) / "r1" / "policy.card.md").read_text())
            # The released graph is one model whose output is the mean of three MLPs that started from the same base
            # and were set apart by their batches (the loader checks its rebuilt mean against the graph).
            loaded = awr.load_policy_weights(Path(tmp) / "r1" / "policy.onnx", meta)
            self.assertIsInstance(loaded, mlp_policy.Ensemble)
            first_layers = [next(iter(m.net)).weight.detach() for m in loaded.members]
            self.assertFalse(torch.equal(first_layers[0], first_layers[1]))
            self.assertFalse(torch.equal(first_layers[1], first_layers[2]))
            obs = np.load(data / "observations.npy")
            out = mlp_policy.run_numpy(onnx.load(str(Path(tmp) / "r1" / "policy.onnx")), {"observation": obs})
            assert out is not None
            self.assertGreater(float(out[0].mean()), 0.4)  # the successes' command, not the failures'
            with torch.no_grad():
                members_mean = sum(m(torch.from_numpy(obs)) for m in loaded.members) / 3
            np.testing.assert_allclose(out[0], members_mean.numpy(), rtol=1e-4, atol=1e-5)

            second = run_round(data, Path(tmp) / "r1", Path(tmp) / "r2", state, "--ensemble", "3")
            self.assertEqual(second.returncode, 0, second.stderr)
            t = json.loads((Path(tmp) / "r2" / "policy.json").read_text())["training"]
            self.assertEqual((t["round"], t["parent_version"], t["optimizer_from"]), (2, meta["version"], "learner state"))

            # Another member count cannot continue it: one line, no model.
            third = run_round(data, Path(tmp) / "r2", Path(tmp) / "r3", state, "--ensemble", "2")
            self.assertEqual(third.returncode, 1)
            self.assertIn("--ensemble 2 cannot continue it (set it to 3)", third.stderr)
            self.assertFalse((Path(tmp) / "r3" / "policy.onnx").exists())

    def test_velocity_noise_makes_the_policy_act_on_positions_not_on_its_last_command(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            base, data = Path(tmp) / "base", Path(tmp) / "snap"
            write_copycat_snapshot(base, data)
            rng = np.random.default_rng(1)
            probe = rng.standard_normal((400, 4)).astype(np.float32)
            rule = np.sign(probe[:, 0])
            probe[:, 2:4] = -0.1 * rule[:, None]  # the last command was the other way

            agreement = {}
            for sigma in ("0", "0.5"):
                run = run_round(data, base, Path(tmp) / f"out-{sigma}", Path(tmp) / f"state-{sigma}", "--velocity-noise", sigma, "--updates", "600")
                self.assertEqual(run.returncode, 0, run.stderr)
                out = mlp_policy.run_numpy(onnx.load(str(Path(tmp) / f"out-{sigma}" / "policy.onnx")), {"observation": probe})
                assert out is not None
                agreement[sigma] = float(np.mean(np.sign(out[0][:, 0, 0]) == rule))
            meta = json.loads((Path(tmp) / "out-0.5" / "policy.json").read_text())
            self.assertEqual(meta["training"]["velocity_noise"], 0.5)
            self.assertIn("N(0, 0.5²) m/s added to the joint velocities", (Path(tmp) / "out-0.5" / "policy.card.md").read_text())
            self.assertGreater(agreement["0.5"], 0.9)  # follows where the joint is
            self.assertLess(agreement["0"], 0.8)  # partly repeats its last command

    def test_a_snapshot_with_nothing_to_imitate_fails_with_one_line(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            base, data = Path(tmp) / "base", Path(tmp) / "snap"
            write_base_policy(base)
            write_snapshot(data, episodes=2, steps=10)
            np.save(data / "terminals.npy", np.zeros(20, np.int32))  # no success, no demonstration
            run = run_round(data, base, Path(tmp) / "out", Path(tmp) / "state")
            self.assertEqual(run.returncode, 1)
            self.assertIn("nothing to imitate", run.stderr)
            self.assertFalse((Path(tmp) / "out" / "policy.onnx").exists())

    def test_a_round_with_demonstrations_but_no_kept_robot_episode_is_skipped(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            base, data, state = Path(tmp) / "base", Path(tmp) / "snap", Path(tmp) / "state"
            write_base_policy(base)
            write_snapshot(data, episodes=3, steps=10)
            mark_first_as_demonstration(data)
            terminals = np.zeros(30, np.int32)
            terminals[9] = 1  # only the demonstration ends in success
            np.save(data / "terminals.npy", terminals)
            run = run_round(data, base, Path(tmp) / "out", state)
            self.assertEqual(run.returncode, 0, run.stderr)
            last = json.loads(run.stdout.strip().splitlines()[-1])
            self.assertEqual(last["event"], "skipped")
            self.assertIn("0 of 2 robot episodes ended in success (min_kept 1)", last["reason"])
            self.assertFalse((Path(tmp) / "out" / "policy.onnx").exists(), "no model: the robots keep theirs")
            self.assertFalse((state / filtered_bc.STATE_FILE).exists(), "the learner state is untouched")


if __name__ == "__main__":
    unittest.main()
