"""Tests for trainer/prm.py: labels and windows, the tokenizer, VOC, the numpy ONNX evaluator, and a tiny
end-to-end run on synthetic frames that must export valid ONNX, metadata and tokenizer.json.

    /usr/bin/python3 -m unittest discover -s trainer/tests
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import onnx
import torch

TRAINER = Path(__file__).resolve().parents[1]
REPO = TRAINER.parent
sys.path.insert(0, str(TRAINER))
import prm  # noqa: E402

INSTRUCTIONS = ["push the red block onto the green pad", "push the blue block onto the yellow pad"]


def write_recording(directory: Path, episodes: int = 6, size: int = 32, seed: int = 0) -> None:
    """A recording shaped like `striatum record --frames top`: a red square slides toward a green disc, so
    progress is visible in the frames. Every other episode stops halfway (a failure); the successful ones end
    with one frame marked successful."""
    rng = np.random.default_rng(seed)
    frames, frame_episode, frame_progress, frame_success, frame_step, meta_episodes = [], [], [], [], [], []
    yy, xx = np.mgrid[0:size, 0:size]
    row = 0
    for e in range(episodes):
        n = int(rng.integers(8, 14))
        success = e % 2 == 0
        start, goal = rng.uniform(4, size - 4, 2), rng.uniform(4, size - 4, 2)
        progress = np.clip(np.linspace(-0.2, 1.0 if success else 0.5, n), 0, 1).astype(np.float32)
        first = len(frames)
        for k in range(n):
            image = np.full((size, size, 3), 200, np.uint8)
            image[(yy - goal[0]) ** 2 + (xx - goal[1]) ** 2 < 9] = (60, 170, 70)
            cy, cx = start + progress[k] * (goal - start)
            image[(abs(yy - cy) < 2) & (abs(xx - cx) < 2)] = (210, 40, 40)
            image[0, 0] = (seed, e, k)  # every frame distinct, so tests can tell which row an image came from
            frames.append(image)
            frame_episode.append(e)
            frame_progress.append(progress[k])
            frame_success.append(int(success and k == n - 1))
            frame_step.append(row + 5 * k)
        meta_episodes.append({"index": e, "seed": e, "steps": 5 * n, "success": success, "outcome": "success" if success else "timeout",
                              "final_progress": float(progress[-1]), "instruction": INSTRUCTIONS[e % 2], "first_frame": first, "frames": n,
                              "initial_distance": 0.4, "first_success_s": None})
        row += 5 * n
    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / "frames_top.npy", np.stack(frames))
    np.save(directory / "frame_episode.npy", np.array(frame_episode, np.int32))
    np.save(directory / "frame_progress.npy", np.array(frame_progress, np.float32))
    np.save(directory / "frame_success.npy", np.array(frame_success, np.int32))
    np.save(directory / "frame_step.npy", np.array(frame_step, np.int32))
    (directory / "meta.json").write_text(json.dumps({
        "task": "push", "control_hz": 50, "source": "synthetic", "progress": True, "success_radius": 0.035,
        "frames": {"cameras": [{"name": "top", "width": size, "height": size}], "hz": 10, "count": len(frames)},
        "episodes": meta_episodes,
    }))


class TokenizerTest(unittest.TestCase):
    def test_vocabulary_starts_with_pad_and_unk_then_sorted_words(self) -> None:
        vocab = prm.build_vocab(INSTRUCTIONS)
        self.assertEqual(list(vocab)[:2], ["[PAD]", "[UNK]"])
        self.assertEqual(list(vocab)[2:], sorted(set(" ".join(INSTRUCTIONS).split())))
        self.assertEqual(list(vocab.values()), list(range(len(vocab))))

    def test_encode_lowercases_splits_punctuation_pads_and_cuts(self) -> None:
        vocab = prm.build_vocab(INSTRUCTIONS)
        ids = prm.encode("Push the RED block, please", vocab, 8)
        self.assertEqual(ids.dtype, np.int64)
        expected = [vocab["push"], vocab["the"], vocab["red"], vocab["block"], vocab["[UNK]"], vocab["[UNK]"], 0, 0]
        self.assertEqual(ids.tolist(), expected)  # "," and "please" are unknown
        self.assertEqual(prm.encode(INSTRUCTIONS[0], vocab, 3).tolist(), [vocab["push"], vocab["the"], vocab["red"]])

    def test_tokenizer_json_is_a_word_level_hugging_face_tokenizer(self) -> None:
        vocab = prm.build_vocab(INSTRUCTIONS)
        t = prm.tokenizer_json(vocab, 16)
        self.assertEqual(t["model"], {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"})
        self.assertEqual(t["pre_tokenizer"], {"type": "Whitespace"})
        self.assertEqual(t["normalizer"], {"type": "Lowercase"})
        self.assertEqual((t["padding"]["pad_id"], t["padding"]["pad_token"], t["padding"]["strategy"]), (0, "[PAD]", {"Fixed": 16}))
        self.assertEqual(t["truncation"]["max_length"], 16)
        self.assertEqual([a["content"] for a in t["added_tokens"]], ["[PAD]", "[UNK]"])
        json.dumps(t)  # serializable as is


class WindowTest(unittest.TestCase):
    # Two episodes: rows 10..14 and 15..17.
    starts, ends = np.array([10, 15]), np.array([15, 18])

    def rows(self, current: list[int], window: int, reverse: bool) -> list[list[int]]:
        c = np.array(current)
        e = (c >= 15).astype(int)
        return prm.window_rows(c, self.starts[e], self.ends[e], window, np.full(len(c), reverse)).tolist()

    def test_forward_window_is_the_frames_before_oldest_first(self) -> None:
        self.assertEqual(self.rows([13, 17], 2, False), [[12, 13], [16, 17]])
        self.assertEqual(self.rows([14], 4, False), [[11, 12, 13, 14]])

    def test_episode_start_repeats_the_first_frame(self) -> None:
        self.assertEqual(self.rows([10, 11, 15], 3, False), [[10, 10, 10], [10, 10, 11], [15, 15, 15]])

    def test_reversed_window_is_the_frames_after_and_repeats_the_last(self) -> None:
        self.assertEqual(self.rows([12], 3, True), [[14, 13, 12]])
        self.assertEqual(self.rows([14, 13, 17], 2, True), [[14, 14], [14, 13], [17, 17]])

    def test_anchor_is_the_first_frame_shown(self) -> None:
        self.assertEqual(prm.anchor_rows(self.starts, self.ends, np.array([False, True])).tolist(), [10, 17])

    def test_windows_never_leave_their_episode(self) -> None:
        rng = np.random.default_rng(1)
        lengths = rng.integers(1, 9, size=30)
        ends = np.cumsum(lengths)
        starts = ends - lengths
        episode = rng.integers(0, 30, size=500)
        current = starts[episode] + (rng.random(500) * lengths[episode]).astype(int)
        reverse = rng.random(500) < 0.5
        rows = prm.window_rows(current, starts[episode], ends[episode], 4, reverse)
        self.assertTrue(((rows >= starts[episode][:, None]) & (rows < ends[episode][:, None])).all())
        self.assertTrue((rows[:, -1] == current).all())
        steps = np.diff(rows, axis=1)
        self.assertTrue((np.where(reverse[:, None], -steps, steps) >= 0).all(), "frames advance in shown order")


class LabelTest(unittest.TestCase):
    progress = np.array([0.0, 0.0, 0.2, 0.5, 0.9, 0.1, 0.3, 0.3], np.float32)

    def test_reversed_clip_is_labelled_with_the_progress_in_reverse_order(self) -> None:
        s, t = 0, 5
        shown = np.arange(t - 1, s - 1, -1)  # the clip played backwards
        labels = prm.progress_labels(self.progress, shown)
        np.testing.assert_array_equal(labels, self.progress[s:t][::-1])
        self.assertLess(prm.value_order_correlation(labels), -0.9, "a successful episode played backwards falls")

    def test_pairwise_label_is_the_progress_difference_and_swapping_negates_it(self) -> None:
        a, b = np.array([0, 2, 4, 6]), np.array([4, 3, 4, 7])
        np.testing.assert_allclose(prm.pairwise_labels(self.progress, a, b), [0.9, 0.3, 0.0, 0.0], atol=1e-6)
        np.testing.assert_array_equal(prm.pairwise_labels(self.progress, b, a), -prm.pairwise_labels(self.progress, a, b))

    def test_hop_labels_integrate_back_to_progress_with_the_runtime_rule(self) -> None:
        # src/reward/progress-integrator.ts: phi += c * (1 - phi) if c >= 0 else c * phi, from phi = 0.
        progress = np.array([0.0, 0.0, 0.3, 0.6, 0.45, 0.9, 1.0, 0.2], np.float32)
        hops = prm.pairwise_labels(progress, np.arange(7), np.arange(1, 8), "hop")
        self.assertTrue(((hops >= -1) & (hops <= 1)).all())
        phi, diff_phi = 0.0, 0.0
        diffs = prm.pairwise_labels(progress, np.arange(7), np.arange(1, 8))
        for t, (c, d) in enumerate(zip(hops, diffs), start=1):
            phi = phi + c * (1 - phi) if c >= 0 else phi + c * phi
            diff_phi = diff_phi + d * (1 - diff_phi) if d >= 0 else diff_phi + d * diff_phi
            self.assertAlmostEqual(phi, float(progress[t]), places=5)
        self.assertLess(diff_phi, 0.5 * float(progress[-2]) + 0.2, "plain differences under-read through that rule")
        self.assertEqual(prm.pairwise_labels(progress, np.array([6]), np.array([6]), "hop").tolist(), [0.0])

    def test_success_scaled_progress_reads_one_from_the_success_radius_on(self) -> None:
        # d0 = 0.4 m, r = 0.035 m: raw progress 1 - d/d0; at d = r it is 0.9125 and must read 1, at d = d0 0.
        raw = np.array([0.0, 0.5, 1 - 0.035 / 0.4, 0.95, 1.0], np.float32)
        scaled = prm.success_scaled_progress(raw, 0.4, 0.035)
        np.testing.assert_allclose(scaled, [0.0, 0.2 / 0.365, 1.0, 1.0, 1.0], atol=1e-6)

    def test_two_hot_targets_sum_to_one_and_their_mean_is_the_label(self) -> None:
        values = torch.tensor([0.0, 0.05, 0.5, 0.999, 1.0])
        target = prm.two_hot(values, 10)
        torch.testing.assert_close(target.sum(dim=1), torch.ones(5))
        torch.testing.assert_close((target * torch.linspace(0, 1, 10)).sum(dim=1), values)
        self.assertEqual(int((target > 0).sum(dim=1).max()), 2)


class SamplingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.temporary = tempfile.TemporaryDirectory()
        write_recording(Path(cls.temporary.name), episodes=8)
        cls.frames, _ = prm.load_frames([Path(cls.temporary.name)], "top")
        vocab = prm.build_vocab(cls.frames.instructions)
        cls.frames.tokens = np.stack([prm.encode(t, vocab, 16) for t in cls.frames.instructions])
        cls.args = prm.parse_args(["--data", "x", "--out", "y"])

    @classmethod
    def tearDownClass(cls) -> None:
        cls.temporary.cleanup()

    def test_pairs_stay_in_one_episode_and_labels_match_the_rows(self) -> None:
        f = self.frames
        rng = np.random.default_rng(0)
        episodes = np.arange(len(f.starts))
        (start, a_img, b_img), tokens, labels = prm.pairwise_batch(rng, f, episodes, 400, self.args)
        # Recover the rows from the images (every synthetic frame is distinct).
        flat = f.images.reshape(len(f.images), -1)
        row = {flat[i].tobytes(): i for i in range(len(flat))}
        a = np.array([row[x.tobytes()] for x in a_img.reshape(400, -1)])
        b = np.array([row[x.tobytes()] for x in b_img.reshape(400, -1)])
        s = np.array([row[x.tobytes()] for x in start.reshape(400, -1)])
        self.assertTrue((f.episode[a] == f.episode[b]).all())
        np.testing.assert_array_equal(s, f.starts[f.episode[a]])
        np.testing.assert_allclose(labels, f.progress[b] - f.progress[a])
        self.assertTrue((np.abs(b - a)[a != s] <= self.args.pair_max_gap).all())
        self.assertTrue((labels < 0).any() and (labels > 0).any(), "pairs come in both orders")
        np.testing.assert_array_equal(tokens, f.tokens[f.episode[a]])

    def test_success_batches_have_the_requested_share_of_negatives(self) -> None:
        f = self.frames
        pools = prm.success_pools(f, np.arange(len(f.starts)))
        self.assertEqual(len(pools[0]), 4)  # one successful frame per successful episode
        _, _, labels = prm.success_batch(np.random.default_rng(0), f, pools, 400, self.args)
        self.assertEqual(int(labels.sum()), 100)  # 1 positive : 3 negatives

    def test_progress_batch_labels_are_the_current_frame_progress(self) -> None:
        f = self.frames
        (anchor, window), _, labels = prm.progress_batch(np.random.default_rng(0), f, np.arange(len(f.starts)), 300, self.args)
        self.assertEqual(window.shape, (300, self.args.window, 32, 32, 3))
        flat = f.images.reshape(len(f.images), -1)
        row = {flat[i].tobytes(): i for i in range(len(flat))}
        current = np.array([row[x.tobytes()] for x in window[:, -1].reshape(300, -1)])
        np.testing.assert_array_equal(labels, f.progress[current])
        first = np.array([row[x.tobytes()] for x in anchor.reshape(300, -1)])
        e = f.episode[current]
        self.assertTrue(np.isin(first, np.stack([f.starts[e], f.ends[e] - 1])).all())

    def test_augment_turns_every_frame_of_a_sample_the_same_way(self) -> None:
        rng = np.random.default_rng(3)
        single = rng.integers(0, 255, (4, 8, 8, 3), dtype=np.uint8)
        window = np.stack([single, single], axis=1)
        for seed in range(8):
            out_single, out_window = prm.augment((single, window), np.random.default_rng(seed))
            self.assertEqual(out_window.shape, window.shape)
            np.testing.assert_array_equal(out_window[:, 0], out_single)
            np.testing.assert_array_equal(out_window[:, 1], out_single)
            self.assertEqual(sorted(out_single.reshape(-1).tolist()), sorted(single.reshape(-1).tolist()))


class SuccessCalibrationTest(unittest.TestCase):
    @staticmethod
    def episodes(*scores_and_truth: tuple[list[float], list[bool]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        score = np.concatenate([np.array(s, np.float32) for s, _ in scores_and_truth])
        truth = np.concatenate([np.array(t, bool) for _, t in scores_and_truth])
        episode = np.concatenate([np.full(len(s), i) for i, (s, _) in enumerate(scores_and_truth)])
        return score, episode, truth

    def test_a_score_before_the_first_success_frame_counts_as_a_false_positive(self) -> None:
        # Two failed episodes stay below 0.5; the successful one answers 0.85 while the block is still on its way.
        score, episode, truth = self.episodes(
            ([0.1, 0.3, 0.2], [False] * 3), ([0.4, 0.2], [False] * 2),
            ([0.2, 0.85, 0.3, 0.95, 0.97], [False, False, False, True, True]))
        threshold, recall, flagged, early = prm.calibrate_success(score, episode, truth, 1)
        self.assertGreater(threshold, 0.85)  # 0.5 would end the successful episode two frames early
        self.assertLess(threshold, 0.95)
        self.assertEqual((recall, flagged, early), (1.0, 0.0, 0.0))

    def test_the_done_rule_needs_k_answers_in_a_row_before_success_too(self) -> None:
        # With k = 2 the lone 0.9 before success cannot fire: the threshold stays at its floor.
        score, episode, truth = self.episodes(
            ([0.1, 0.3], [False] * 2), ([0.9, 0.2, 0.9, 0.95, 0.96], [False, False, False, True, True]))
        threshold, recall, flagged, early = prm.calibrate_success(score, episode, truth, 2)
        self.assertEqual((threshold, recall, flagged, early), (0.5, 1.0, 0.0, 0.0))


class ValueOrderCorrelationTest(unittest.TestCase):
    def test_matches_src_reward_voc(self) -> None:
        self.assertEqual(prm.value_order_correlation([0.1, 0.2, 0.5, 0.9]), 1.0)
        self.assertEqual(prm.value_order_correlation([3, 2, 1]), -1.0)
        self.assertEqual(prm.value_order_correlation([0.4, 0.4, 0.4]), 0.0)
        self.assertEqual(prm.value_order_correlation([0.4]), 0.0)
        self.assertEqual(prm.value_order_correlation([1, np.nan, 2, np.inf, 3]), 1.0)
        # Ties share their average rank: ranks (1.5, 1.5, 3, 4) against (1, 2, 3, 4).
        r, t = np.array([1.5, 1.5, 3, 4]) - 2.5, np.arange(1, 5) - 2.5
        self.assertAlmostEqual(prm.value_order_correlation([0, 0, 1, 2]), float((r * t).sum() / np.sqrt((r * r).sum() * (t * t).sum())))


class NumpyEvaluatorTest(unittest.TestCase):
    def test_exported_networks_match_torch_on_every_kind(self) -> None:
        args = prm.parse_args(["--data", "x", "--out", "y", "--width", "4", "--hidden", "8", "--text-dim", "4", "--keypoints", "3"])
        torch.manual_seed(0)
        for kind in prm.KINDS:
            net = prm.PrmNet(kind, 32, args, vocab_size=9)
            net.encoder.set_pixel_stats(np.array([190, 180, 170], np.float32), np.array([30, 40, 50], np.float32))
            self.assertEqual(prm.verify_onnx(prm.export_onnx(net, 32, args), net, 32, args), "numpy")

    def test_progress_output_is_rounded_to_its_step_inside_the_model(self) -> None:
        args = prm.parse_args(["--data", "x", "--out", "y", "--width", "4", "--hidden", "8", "--keypoints", "2", "--progress-step", "0.05"])
        net = prm.PrmNet("progress", 32, args, vocab_size=5)
        values = net.output(torch.randn(64, args.bins) * 3)
        torch.testing.assert_close(values, torch.round(values / 0.05) * 0.05)
        self.assertTrue(((values >= 0) & (values <= 1)).all())


class SmokeRunTest(unittest.TestCase):
    """Train every kind for a few steps on synthetic frames and check every output file."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.temporary = tempfile.TemporaryDirectory()
        root = Path(cls.temporary.name)
        write_recording(root / "a", episodes=6, seed=1)
        write_recording(root / "b", episodes=4, seed=2)
        cls.out = root / "models" / "prm"
        cls.result = subprocess.run(
            [
                sys.executable, str(TRAINER / "prm.py"), "--data", f"{root / 'a'},{root / 'b'}", "--out", str(cls.out),
                "--epochs", "2", "--pairwise-epochs", "2", "--samples-per-epoch", "64", "--batch-size", "16", "--width", "4", "--hidden", "16",
                "--text-dim", "8", "--keypoints", "4", "--val-fraction", "0.25", "--version", "smoke-1", "--threads", "1",
            ],
            capture_output=True, text=True, timeout=600, cwd=REPO,
        )

    @classmethod
    def tearDownClass(cls) -> None:
        cls.temporary.cleanup()

    def setUp(self) -> None:
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        self.events = [json.loads(line) for line in self.result.stdout.splitlines()]

    def test_progress_lines_then_done(self) -> None:
        progress = [e for e in self.events if e["event"] == "progress"]
        self.assertEqual([(e["model"], e["epoch"]) for e in progress], [(k, i) for k in prm.KINDS for i in (1, 2)])
        for event in progress:
            for key in ("charts/learning_rate", "losses/train", "losses/val", "perf/samples_per_s"):
                self.assertIn(key, event)
        models = [e for e in self.events if e["event"] == "model"]
        self.assertEqual([(e["model"], e["onnx_check"]) for e in models], [(k, "numpy") for k in prm.KINDS])
        done = self.events[-1]
        self.assertEqual(done["event"], "done")
        built = (REPO / "dist" / "src" / "reward" / "metadata.js").is_file() and shutil.which("node") is not None
        self.assertEqual(done["metadata_check"] == "zod", built, done["metadata_check"])

    def test_onnx_models_are_valid_opset_17_with_the_declared_signature(self) -> None:
        for kind in prm.KINDS:
            model = onnx.load(str(self.out / f"{kind}.onnx"))
            onnx.checker.check_model(model, full_check=True)
            self.assertEqual(model.opset_import[0].version, 17)
            metadata = json.loads((self.out / f"{kind}.json").read_text())
            self.assertEqual([i.name for i in model.graph.input], [t["name"] for t in metadata["inputs"]])
            self.assertEqual([o.name for o in model.graph.output], [t["name"] for t in metadata["outputs"]])
            self.assertLess((self.out / f"{kind}.onnx").stat().st_size, 5_000_000)

    def test_metadata_fits_the_prm_schema(self) -> None:
        roles = {"progress": ["image", "start_image", "text_ids"], "pairwise": ["image", "image", "start_image", "text_ids"],
                 "success": ["image", "text_ids"]}
        for kind in prm.KINDS:
            m = json.loads((self.out / f"{kind}.json").read_text())
            self.assertEqual(list(m), ["format", "name", "version", "kind", "created", "model", "sha256", "inputs", "outputs",
                                       "preprocessing", "text", "frames", "training"])
            self.assertEqual((m["format"], m["name"], m["version"], m["kind"], m["model"]),
                             ("striatum.prm/v1", f"push-{kind}", "smoke-1", kind, f"{kind}.onnx"))
            self.assertRegex(m["sha256"], r"^[0-9a-f]{64}$")
            self.assertEqual(m["sha256"], __import__("hashlib").sha256((self.out / f"{kind}.onnx").read_bytes()).hexdigest())
            self.assertEqual([t["role"] for t in m["inputs"]], roles[kind])
            self.assertEqual(m["outputs"], [{"name": {"progress": "progress", "pairwise": "delta", "success": "success"}[kind],
                                             "role": {"progress": "progress", "pairwise": "delta", "success": "success"}[kind],
                                             "shape": [-1, 1], "dtype": "float32"}])
            pre = m["preprocessing"]
            self.assertEqual((pre["dtype"], pre["layout"], pre["scale"], pre["mean"], pre["std"]), ("uint8", "nhwc", 1, [0, 0, 0], [1, 1, 1]))
            self.assertEqual(pre["resize"], {"width": 32, "height": 32})
            self.assertEqual(m["text"], {"tokenizer": "tokenizer.json", "max_length": 16})
            window = m["frames"]["window"]
            for t in m["inputs"]:
                self.assertEqual(t["shape"][0], -1)
                if t["role"] == "image":
                    self.assertEqual(t["shape"], [-1, window, 32, 32, 3] if window > 1 else [-1, 32, 32, 3])
                    self.assertEqual(t["dtype"], "uint8")
                if t["role"] == "text_ids":
                    self.assertEqual((t["shape"], t["dtype"]), ([-1, 16], "int64"))
            self.assertEqual(m["frames"]["start_anchor"], kind != "success")

    def test_tokenizer_json_and_model_card(self) -> None:
        tokenizer = json.loads((self.out / "tokenizer.json").read_text())
        self.assertEqual(tokenizer["model"]["type"], "WordLevel")
        self.assertEqual(tokenizer["model"]["vocab"], prm.build_vocab(INSTRUCTIONS))
        card = (self.out / "README.md").read_text()
        self.assertIn("<!-- prm-eval:begin -->", card)
        for kind in prm.KINDS:
            self.assertIn(f"`{kind}.onnx`", card)
        self.assertFalse(list(self.out.glob("*.tmp")))

    def test_missing_camera_is_one_line_and_exit_1(self) -> None:
        root = Path(self.temporary.name)
        command = [sys.executable, str(TRAINER / "prm.py"), "--data", str(root / "a"), "--out", str(root / "x"), "--camera", "wrist"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, "")
        self.assertRegex(result.stderr, r"^prm.py: error: .* has no frames of camera 'wrist'; record it with --frames wrist\n$")


if __name__ == "__main__":
    unittest.main()
