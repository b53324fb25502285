"""Tests for trainer/sac_rlpd.py: TD targets, log-probability and temperature by hand, the 50/50 demo/online
mix, s′ rows, and a smoke run of a few hundred steps (fresh, then resumed from its state) producing a loadable
ONNX with mean and log-std outputs.

    /usr/bin/python3 -m unittest discover -s trainer/tests
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import onnx
import torch

TRAINER = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TRAINER))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import mlp_policy  # noqa: E402
import sac_rlpd  # noqa: E402
from test_awr import write_base_policy, write_snapshot  # noqa: E402


class MathTest(unittest.TestCase):
    def test_td_target_bootstraps_except_at_a_true_terminal(self) -> None:
        r = torch.tensor([1.0, 0.5])
        d = torch.tensor([0.0, 1.0])
        q = torch.tensor([2.0, 2.0])
        logp = torch.tensor([-1.0, -1.0])
        y = sac_rlpd.td_targets(r, d, q, logp, alpha=0.1, gamma=0.9)
        # 1 + 0.9·(2 − 0.1·(−1)) = 2.89; at the terminal only r.
        self.assertTrue(torch.allclose(y, torch.tensor([2.89, 0.5])))

    def test_gaussian_log_prob_matches_the_density_by_hand(self) -> None:
        a, mu, log_std = torch.tensor([[0.1, -0.2]]), torch.tensor([[0.0, 0.1]]), torch.log(torch.tensor([[0.5, 0.1]]))
        by_hand = -0.5 * (0.04 + 2 * math.log(0.5) + math.log(2 * math.pi)) - 0.5 * (9 + 2 * math.log(0.1) + math.log(2 * math.pi))
        self.assertAlmostEqual(float(sac_rlpd.gaussian_log_prob(a, mu, log_std)[0]), by_hand, places=5)

    def test_temperature_rises_when_entropy_is_below_target(self) -> None:
        log_alpha = torch.tensor(0.0, requires_grad=True)
        # log π = 1 → entropy −1, below a target of 0: the loss falls as log α rises (gradient negative).
        sac_rlpd.temperature_loss(log_alpha, torch.tensor([1.0, 1.0]), target_entropy=0.0).backward()
        self.assertLess(float(log_alpha.grad), 0)
        log_alpha.grad = None
        sac_rlpd.temperature_loss(log_alpha, torch.tensor([-3.0]), target_entropy=0.0).backward()
        self.assertGreater(float(log_alpha.grad), 0)

    def test_batches_mix_demonstrations_and_robot_data_half_and_half(self) -> None:
        rng = np.random.default_rng(0)
        demo, online = np.arange(0, 10), np.arange(100, 1000)
        rows = sac_rlpd.mixed_batch(rng, demo, online, 256, 0.5)
        self.assertEqual(len(rows), 256)
        self.assertEqual(int((rows < 100).sum()), 128)
        self.assertTrue(set(rows[rows < 100]) <= set(demo))
        self.assertTrue(np.all(sac_rlpd.mixed_batch(rng, np.array([], int), online, 64, 0.5) >= 100), "no demos: all online")
        self.assertTrue(np.all(sac_rlpd.mixed_batch(rng, demo, np.array([], int), 64, 0.5) < 100), "no robot data yet: all demos")

    def test_next_rows_stay_inside_each_episode(self) -> None:
        self.assertEqual(sac_rlpd.next_rows(np.array([0, 0, 0, 1, 1, 2])).tolist(), [1, 2, 2, 4, 4, 5])

    def test_bound_excess_is_zero_inside(self) -> None:
        bound = torch.tensor([1.0, 2.0])
        self.assertEqual(float(sac_rlpd.bound_excess(torch.tensor([[0.5, -1.5]]), bound)), 0.0)
        self.assertAlmostEqual(float(sac_rlpd.bound_excess(torch.tensor([[1.5, -2.0]]), bound)), 0.25)


def run_round(data: Path, base: Path, out: Path, state: Path, extra: list[str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(TRAINER / "sac_rlpd.py"), "--data", str(data), "--base", str(base), "--out", str(out),
         "--state", str(state), "--min-updates", "150", "--max-updates", "150", "--batch-size", "64", "--hidden", "32",
         "--threads", "1", "--demo-version", "demo", "--actor-warmup", "50", *(extra or [])],
        capture_output=True, text=True, timeout=300,
    )


class SmokeTest(unittest.TestCase):
    def test_two_rounds_export_a_gaussian_policy_and_the_second_resumes_the_learner(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            base, data, state = Path(tmp) / "base", Path(tmp) / "snap", Path(tmp) / "state"
            write_base_policy(base)
            write_snapshot(data)
            manifest = json.loads((data / "manifest.json").read_text())
            for e in manifest["episodes"]:
                e["policy_versions"] = ["demo"] if e["index"] < 2 else ["bc-1"]
            (data / "manifest.json").write_text(json.dumps(manifest))

            first = run_round(data, base, Path(tmp) / "r1", state)
            self.assertEqual(first.returncode, 0, first.stderr)
            done = json.loads(first.stdout.splitlines()[-1])
            self.assertEqual(done["event"], "done")
            self.assertEqual(done["actor_from"], "base bc-1")
            model_bytes = (Path(tmp) / "r1" / "policy.onnx").read_bytes()
            model = onnx.load_model_from_string(model_bytes)
            onnx.checker.check_model(model, full_check=True)
            self.assertEqual([o.name for o in model.graph.output], ["action", "log_std"])
            meta = json.loads((Path(tmp) / "r1" / "policy.json").read_text())
            self.assertEqual(meta["sha256"], hashlib.sha256(model_bytes).hexdigest())
            self.assertEqual([o["name"] for o in meta["outputs"]], ["action", "log_std"])
            self.assertEqual(meta["outputs"][1]["shape"], [-1, 2])
            self.assertEqual(meta["training"]["demo_episodes"], 2)
            self.assertEqual(meta["training"]["gradient_steps"], 150)
            self.assertTrue((state / sac_rlpd.STATE_FILE).is_file())

            # The robots now run r1: the next round continues its actor and the learner's critics and optimisers.
            second = run_round(data, Path(tmp) / "r1", Path(tmp) / "r2", state)
            self.assertEqual(second.returncode, 0, second.stderr)
            done2 = json.loads(second.stdout.splitlines()[-1])
            self.assertEqual(done2["actor_from"], "learner state")
            self.assertEqual(done2["round"], 2)
            saved = sac_rlpd.load_state(state / sac_rlpd.STATE_FILE)
            self.assertEqual(saved["updates"], 300)
            self.assertEqual(saved["actor_version"], done2["version"])

    def test_a_damaged_state_is_refused_in_one_line(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            base, data, state = Path(tmp) / "base", Path(tmp) / "snap", Path(tmp) / "state"
            write_base_policy(base)
            write_snapshot(data)
            state.mkdir()
            (state / sac_rlpd.STATE_FILE).write_bytes(b"not a state")
            result = run_round(data, base, Path(tmp) / "out", state)
            self.assertEqual(result.returncode, 1)
            self.assertIn("cannot read learner state", result.stderr)
            self.assertEqual(len(result.stderr.strip().splitlines()), 1)


if __name__ == "__main__":
    unittest.main()
