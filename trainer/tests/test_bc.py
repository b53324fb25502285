"""Tests for trainer/bc.py: the math directly, the input checks, and a tiny end-to-end run in a subprocess.

    /usr/bin/python3 -m unittest discover -s trainer/tests
"""

from __future__ import annotations

import datetime
import hashlib
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
import bc  # noqa: E402
import common  # noqa: E402
import mlp_policy  # noqa: E402

PUSH_FIELDS = [
    {"name": "joint_positions", "size": 2},
    {"name": "joint_velocities", "size": 2},
    {"name": "block_position", "size": 2},
    {"name": "pad_position", "size": 2},
]


def write_dataset(
    directory: Path, episodes: int = 20, steps: int = 50, failed: tuple[int, ...] = (), seed: int = 0
) -> None:
    """A push-shaped dataset: joints move at a constant velocity per episode and the action is a fixed linear
    function of the observation, so a whole action chunk is a linear function of its first observation.
    pad_position is constant, as on the real task, so its std must come out as 1.0."""
    rng = np.random.default_rng(seed)
    n = episodes * steps
    t = np.tile(np.arange(steps), episodes)[:, None] / 50.0
    start, velocity, block = (np.repeat(rng.normal(0, s, (episodes, 2)), steps, axis=0) for s in (0.3, 0.2, 0.2))
    pad = np.broadcast_to([0.5, -0.25], (n, 2))
    observations = np.concatenate([start + velocity * t, velocity, block, pad], axis=1).astype(np.float32)
    weights = rng.standard_normal((8, 2)).astype(np.float32)
    actions = (observations @ weights + np.array([0.05, -0.02], np.float32)).astype(np.float32)
    episode_index = np.repeat(np.arange(episodes, dtype=np.int32), steps)
    meta = {
        "task": "push",
        "control_hz": 50,
        "observation_fields": PUSH_FIELDS,
        "action": {"mode": "velocity", "joints": ["x", "y"]},
        "episodes": [{"index": i, "seed": i + 1, "steps": steps, "success": i not in failed} for i in range(episodes)],
    }
    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / "observations.npy", observations)
    np.save(directory / "actions.npy", actions)
    np.save(directory / "episode_index.npy", episode_index)
    (directory / "meta.json").write_text(json.dumps(meta))


class NormalizationStatsTest(unittest.TestCase):
    def test_mean_and_population_std_per_column(self) -> None:
        x = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]], np.float32)
        mean, std = mlp_policy.normalization_stats(x)
        np.testing.assert_allclose(mean, [3.0, 30.0])
        np.testing.assert_allclose(std, [np.sqrt(8 / 3), 10 * np.sqrt(8 / 3)], rtol=1e-6)
        self.assertEqual((mean.dtype, std.dtype), (np.float32, np.float32))

    def test_constant_and_nearly_constant_columns_get_std_one(self) -> None:
        x = np.array([[2.0, 7.0, 1.0], [2.0, 7.0 + 1e-7, 2.0], [2.0, 7.0, 3.0]], np.float64)
        mean, std = mlp_policy.normalization_stats(x)
        np.testing.assert_allclose(mean[:2], [2.0, 7.0])
        self.assertEqual(std[0], 1.0)
        self.assertEqual(std[1], 1.0)  # std ~4.7e-8 is below the 1e-6 floor
        self.assertAlmostEqual(float(std[2]), np.sqrt(2 / 3), places=6)

    def test_std_just_above_the_floor_is_kept(self) -> None:
        x = np.array([[0.0], [4e-6]])
        _, std = mlp_policy.normalization_stats(x)
        self.assertAlmostEqual(float(std[0]), 2e-6, delta=1e-12)


class ChunkTargetsTest(unittest.TestCase):
    # Two episodes, the action of row r is (r, -r) so every target says which row it came from.
    episode_index = np.array([0, 0, 0, 1, 1, 2])
    actions = np.stack([np.arange(6), -np.arange(6)], axis=1).astype(np.float32)

    def test_chunk_one_is_the_action_itself(self) -> None:
        targets = mlp_policy.chunk_targets(self.actions, self.episode_index, 1)
        self.assertEqual(targets.shape, (6, 1, 2))
        np.testing.assert_array_equal(targets[:, 0], self.actions)

    def test_episode_end_is_padded_with_its_last_action(self) -> None:
        targets = mlp_policy.chunk_targets(self.actions, self.episode_index, 3)
        self.assertEqual(targets.shape, (6, 3, 2))
        source_rows = targets[:, :, 0].astype(int).tolist()
        self.assertEqual(source_rows, [[0, 1, 2], [1, 2, 2], [2, 2, 2], [3, 4, 4], [4, 4, 4], [5, 5, 5]])
        np.testing.assert_array_equal(targets[:, :, 1], -targets[:, :, 0])

    def test_no_target_comes_from_another_episode(self) -> None:
        rng = np.random.default_rng(3)
        episode_index = np.repeat(np.arange(7), rng.integers(1, 9, size=7))
        actions = np.arange(len(episode_index), dtype=np.float32)[:, None]
        targets = mlp_policy.chunk_targets(actions, episode_index, 5)
        source_episode = episode_index[targets[:, :, 0].astype(int)]
        np.testing.assert_array_equal(source_episode, np.repeat(episode_index[:, None], 5, axis=1))

    def test_episode_split_over_non_adjacent_rows_is_refused(self) -> None:
        with self.assertRaisesRegex(bc.TrainerError, "episode 0 is split"):
            mlp_policy.chunk_targets(self.actions, np.array([0, 0, 1, 1, 0, 2]), 2)


class SplitEpisodesTest(unittest.TestCase):
    def test_split_is_a_partition_of_the_episodes(self) -> None:
        episodes = np.arange(100, 150)
        train, val = common.split_episodes(episodes, 0.2, seed=5)
        self.assertEqual(len(val), 10)
        self.assertEqual(set(train) & set(val), set())
        self.assertEqual(set(train) | set(val), set(episodes))

    def test_split_depends_on_the_seed_only(self) -> None:
        episodes = np.arange(40)
        first, second = common.split_episodes(episodes, 0.25, seed=1), common.split_episodes(episodes, 0.25, seed=1)
        np.testing.assert_array_equal(first[1], second[1])
        self.assertFalse(np.array_equal(first[1], common.split_episodes(episodes, 0.25, seed=2)[1]))

    def test_at_least_one_and_never_all_episodes_held_out(self) -> None:
        self.assertEqual(len(common.split_episodes(np.arange(5), 0.01, seed=0)[1]), 1)
        train, val = common.split_episodes(np.arange(2), 0.9, seed=0)
        self.assertEqual((len(train), len(val)), (1, 1))
        self.assertEqual(len(common.split_episodes(np.arange(1), 0.5, seed=0)[1]), 0)
        self.assertEqual(len(common.split_episodes(np.arange(10), 0.0, seed=0)[1]), 0)

    def test_row_masks_from_the_split_do_not_overlap(self) -> None:
        episode_index = np.repeat(np.arange(12), 7)
        train, val = common.split_episodes(np.unique(episode_index), 0.3, seed=9)
        train_rows, val_rows = np.isin(episode_index, train), np.isin(episode_index, val)
        self.assertFalse((train_rows & val_rows).any())
        self.assertTrue((train_rows | val_rows).all())


class LoadDatasetTest(unittest.TestCase):
    def setUp(self) -> None:
        self.directory = Path(self.enterContext(tempfile.TemporaryDirectory())) / "data"
        write_dataset(self.directory, episodes=4, steps=5)

    def assertRefused(self, pattern: str) -> None:
        with self.assertRaisesRegex(bc.TrainerError, pattern):
            bc.load_dataset(self.directory)

    def test_valid_dataset_loads(self) -> None:
        dataset = bc.load_dataset(self.directory)
        self.assertEqual(dataset.observations.shape, (20, 8))
        self.assertEqual(dataset.actions.dtype, np.float32)

    def test_missing_file(self) -> None:
        (self.directory / "actions.npy").unlink()
        self.assertRefused("missing .*actions.npy")

    def test_observation_columns_must_match_meta_fields(self) -> None:
        np.save(self.directory / "observations.npy", np.zeros((20, 7), np.float32))
        self.assertRefused("7 columns but meta.json observation_fields add up to 8")

    def test_action_columns_must_match_meta_joints(self) -> None:
        np.save(self.directory / "actions.npy", np.zeros((20, 3), np.float32))
        self.assertRefused("3 columns but meta.json names 2 joints")

    def test_row_counts_must_agree(self) -> None:
        np.save(self.directory / "episode_index.npy", np.zeros(19, np.int32))
        self.assertRefused("row counts differ")

    def test_episode_steps_must_match_meta(self) -> None:
        np.save(self.directory / "episode_index.npy", np.array([0] * 6 + [1] * 4 + [2] * 5 + [3] * 5, np.int32))
        self.assertRefused("episode 0 has 5 steps but episode_index.npy has 6 rows")

    def test_non_finite_values_are_refused(self) -> None:
        actions = np.zeros((20, 2), np.float32)
        actions[7, 1] = np.nan
        np.save(self.directory / "actions.npy", actions)
        self.assertRefused("NaN or infinite values in 1 rows, first at row 7")

    def test_cli_prints_one_line_and_exits_non_zero(self) -> None:
        (self.directory / "meta.json").unlink()
        command = [sys.executable, str(TRAINER / "bc.py"), "--data", str(self.directory), "--out", str(self.directory)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, "")
        self.assertRegex(result.stderr, r"^bc.py: error: missing .*meta.json\n$")


class OutputDirectoryTest(unittest.TestCase):
    """An --out directory that already holds files (the shipped models/push) is refused unless --force."""

    def setUp(self) -> None:
        self.root = Path(self.enterContext(tempfile.TemporaryDirectory()))

    def test_new_and_empty_directories_are_accepted(self) -> None:
        bc.check_out_dir(self.root / "new", force=False)
        (self.root / "empty").mkdir()
        bc.check_out_dir(self.root / "empty", force=False)

    def test_non_empty_directory_needs_force(self) -> None:
        (self.root / "policy.onnx").write_bytes(b"shipped")
        with self.assertRaisesRegex(bc.TrainerError, "already holds 1 file"):
            bc.check_out_dir(self.root, force=False)
        bc.check_out_dir(self.root, force=True)

    def test_cli_refuses_before_training_and_leaves_the_files(self) -> None:
        write_dataset(self.root / "data", episodes=4, steps=5)
        out = self.root / "models" / "push"
        out.mkdir(parents=True)
        (out / "policy.onnx").write_bytes(b"shipped")
        command = [sys.executable, str(TRAINER / "bc.py"), "--data", str(self.root / "data"), "--out", str(out)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, "", "no training progress: refused before the first epoch")
        self.assertRegex(result.stderr, r"^bc.py: error: --out .* already holds 1 file.*--force[^\n]*\n$")
        self.assertEqual((out / "policy.onnx").read_bytes(), b"shipped")


class SmokeRunTest(unittest.TestCase):
    """Train a few epochs on a linear synthetic task and check every output file."""

    epochs = 8

    @classmethod
    def setUpClass(cls) -> None:
        cls.temporary = tempfile.TemporaryDirectory()
        root = Path(cls.temporary.name)
        write_dataset(root / "data", episodes=20, steps=50, failed=(3,))
        cls.out = root / "models" / "push"

        def train(out: Path, threads: int) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [
                    sys.executable, str(TRAINER / "bc.py"), "--data", str(root / "data"), "--out", str(out),
                    "--epochs", str(cls.epochs), "--batch-size", "32", "--lr", "3e-3", "--hidden", "32", "--chunk", "3",
                    "--val-fraction", "0.2", "--version", "smoke-1", "--threads", str(threads),
                ],
                capture_output=True, text=True, timeout=300,
            )

        cls.result = train(cls.out, threads=1)
        cls.rerun = train(root / "rerun", threads=2)  # same seed, other thread count: same bytes expected

    @classmethod
    def tearDownClass(cls) -> None:
        cls.temporary.cleanup()

    def setUp(self) -> None:
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        self.events = [json.loads(line) for line in self.result.stdout.splitlines()]
        self.metadata = json.loads((self.out / "policy.json").read_text())

    def test_progress_lines_then_done(self) -> None:
        progress = [e for e in self.events if e["event"] == "progress"]
        self.assertEqual([e["epoch"] for e in progress], list(range(1, self.epochs + 1)))
        for event in progress:
            for key in ("epochs", "charts/epoch", "losses/train", "losses/val", "perf/samples_per_s"):
                self.assertIn(key, event)
        self.assertEqual(self.events[-1]["event"], "done")
        self.assertIn(self.events[-1]["onnx_check"], ("onnx.reference", "numpy"))

    def test_loss_decreases(self) -> None:
        progress = [e for e in self.events if e["event"] == "progress"]
        self.assertLess(progress[-1]["losses/train"], 0.5 * progress[0]["losses/train"])
        self.assertLess(progress[-1]["losses/val"], progress[0]["losses/val"])

    def test_onnx_model_is_valid_with_the_declared_signature(self) -> None:
        model = onnx.load(str(self.out / "policy.onnx"))
        onnx.checker.check_model(model, full_check=True)
        self.assertEqual([i.name for i in model.graph.input], ["observation"])
        self.assertEqual([o.name for o in model.graph.output], ["action"])
        self.assertEqual(model.opset_import[0].version, 17)

    def test_metadata_has_the_exact_schema(self) -> None:
        m = self.metadata
        self.assertEqual(list(m), [
            "format", "name", "version", "task", "created", "model", "sha256",
            "inputs", "outputs", "observation", "action", "training",
        ])
        self.assertEqual(
            (m["format"], m["name"], m["version"], m["task"], m["model"]),
            ("striatum.policy/v1", "push-bc", "smoke-1", "push", "policy.onnx"),
        )
        created = datetime.datetime.fromisoformat(m["created"].replace("Z", "+00:00"))
        self.assertTrue(m["created"].endswith("Z"))
        self.assertEqual(created.utcoffset(), datetime.timedelta(0))
        self.assertEqual(m["inputs"], [{"name": "observation", "shape": [-1, 8], "dtype": "float32"}])
        self.assertEqual(m["outputs"], [{"name": "action", "shape": [-1, 3, 2], "dtype": "float32"}])
        self.assertEqual(list(m["observation"]), ["fields", "mean", "std"])
        self.assertEqual(m["observation"]["fields"], PUSH_FIELDS)
        self.assertEqual(list(m["action"]), ["mode", "joints", "chunk", "mean", "std"])
        self.assertEqual([m["action"][k] for k in ("mode", "joints", "chunk")], ["velocity", ["x", "y"], 3])
        for part, size in (("observation", 8), ("action", 2)):
            self.assertEqual(len(m[part]["mean"]), size)
            self.assertEqual(len(m[part]["std"]), size)
            self.assertTrue(all(s > 0 for s in m[part]["std"]))
        self.assertEqual(m["observation"]["std"][6:], [1.0, 1.0])  # the constant pad_position
        training = m["training"]
        self.assertEqual(list(training), [
            "algorithm", "dataset_episodes", "dataset_steps", "epochs",
            "final_train_loss", "final_val_loss", "seed", "torch", "architecture",
        ])
        self.assertEqual(training["architecture"], {"kind": "mlp", "hidden": 32, "layers": 2, "frame": "none"})
        self.assertEqual((training["algorithm"], training["epochs"], training["seed"]), ("bc", self.epochs, 1))
        self.assertEqual((training["dataset_episodes"], training["dataset_steps"]), (19, 950))  # episode 3 failed
        self.assertIsInstance(training["final_val_loss"], float)

    def test_model_and_metadata_together_reproduce_the_expert(self) -> None:
        # What the runtime does: normalize with the metadata, run the graph, denormalize the first chunk step.
        data = Path(self.temporary.name) / "data"
        observations, actions = np.load(data / "observations.npy"), np.load(data / "actions.npy")
        obs_mean, obs_std = (np.array(self.metadata["observation"][k], np.float32) for k in ("mean", "std"))
        act_mean, act_std = (np.array(self.metadata["action"][k], np.float32) for k in ("mean", "std"))
        model = onnx.load(str(self.out / "policy.onnx"))
        (normalized,) = mlp_policy.run_numpy(model, {"observation": (observations - obs_mean) / obs_std})
        predicted = normalized[:, 0] * act_std + act_mean
        self.assertLess(float(np.mean(((predicted - actions) / act_std) ** 2)), 0.1)

    def test_sha256_matches_the_model_file(self) -> None:
        digest = hashlib.sha256((self.out / "policy.onnx").read_bytes()).hexdigest()
        self.assertEqual(self.metadata["sha256"], digest)
        self.assertEqual(self.events[-1]["sha256"], digest)

    def test_same_seed_gives_the_same_model(self) -> None:
        self.assertEqual(self.rerun.returncode, 0, self.rerun.stderr)
        self.assertEqual(json.loads(self.rerun.stdout.splitlines()[-1])["sha256"], self.metadata["sha256"])

    def test_model_card_has_an_evaluation_section_to_fill(self) -> None:
        card = (self.out / "policy.card.md").read_text()
        self.assertIn("# push-bc smoke-1", card)
        self.assertIn("## Evaluation", card)
        self.assertIn(self.metadata["sha256"], card)

    def test_no_temporary_files_left(self) -> None:
        self.assertEqual(sorted(p.name for p in self.out.iterdir()), ["policy.card.md", "policy.json", "policy.onnx"])


if __name__ == "__main__":
    unittest.main()


class SymmetryRunTest(unittest.TestCase):
    def test_square_d4_trains_on_all_eight_images(self) -> None:
        # The 8 images of every row are symmetric about the table centre: the statistics policy.json records come
        # out centred on it for positions and on zero for velocities and commands, whatever the data's own means.
        with tempfile.TemporaryDirectory() as tmp:
            write_dataset(Path(tmp) / "data", episodes=6, steps=20)
            run = subprocess.run(
                [sys.executable, str(TRAINER / "bc.py"), "--data", str(Path(tmp) / "data"), "--out", str(Path(tmp) / "out"),
                 "--epochs", "1", "--hidden", "16", "--val-fraction", "0", "--threads", "1", "--symmetry", "square-d4"],
                capture_output=True, text=True, timeout=300,
            )
            self.assertEqual(run.returncode, 0, run.stderr)
            meta = json.loads((Path(tmp) / "out" / "policy.json").read_text())
            np.testing.assert_allclose(meta["observation"]["mean"], [0.4, 0.4, 0, 0, 0.4, 0.4, 0.4, 0.4], atol=1e-5)
            np.testing.assert_allclose(meta["action"]["mean"], [0, 0], atol=1e-5)
            # Without it, the same data's pad column keeps its own mean (0.5, −0.25).
            plain = subprocess.run(
                [sys.executable, str(TRAINER / "bc.py"), "--data", str(Path(tmp) / "data"), "--out", str(Path(tmp) / "plain"),
                 "--epochs", "1", "--hidden", "16", "--val-fraction", "0", "--threads", "1"],
                capture_output=True, text=True, timeout=300,
            )
            self.assertEqual(plain.returncode, 0, plain.stderr)
            pad_mean = json.loads((Path(tmp) / "plain" / "policy.json").read_text())["observation"]["mean"][6:]
            np.testing.assert_allclose(pad_mean, [0.5, -0.25], atol=1e-5)

    def test_symmetry_needs_chunk_one(self) -> None:
        run = subprocess.run(
            [sys.executable, str(TRAINER / "bc.py"), "--data", "x", "--out", "y", "--symmetry", "square-d4", "--chunk", "3"],
            capture_output=True, text=True, timeout=60,
        )
        self.assertEqual(run.returncode, 2)
        self.assertIn("--symmetry needs --chunk 1", run.stderr)
