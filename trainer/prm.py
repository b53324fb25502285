"""Process-reward models: train small vision-language PRMs on recorded sim frames and export them as ONNX.

Reads one or more dataset directories written by `striatum record --frames top --progress` and writes, into OUT,
for each model kind a `<kind>.onnx` with its `striatum.prm/v1` metadata `<kind>.json` (src/reward/metadata.ts),
one word-level `tokenizer.json` (Hugging Face tokenizers format) and the model card `README.md`:

    progress  (window of frames, start frame, instruction) -> progress in [0, 1]   (10-bin value head, summed)
    pairwise  (frame a, frame b, start frame, instruction) -> progress(b) - progress(a) in [-1, 1]
    success   (frame, instruction)                          -> success score in [0, 1]

Progress is one JSON line per epoch on stdout; errors in the input are one readable line on stderr, exit 1.

    /usr/bin/python3 trainer/prm.py --data data/prm/expert,data/prm/noisy-expert,data/prm/stall,data/prm/random \
        --out models/push-prm
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import inspect
import io
import json
import re
import shutil
import subprocess
import sys
import time
import typing
import warnings
from dataclasses import dataclass
from pathlib import Path

import common  # first: it sets OMP_WAIT_POLICY before torch loads
import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F
from common import TrainerError, dataclass_parser, load_array, split_episodes, write_atomic
from onnx_numpy import graph_shape, run_numpy

ONNX_OPSET = 17
METADATA_FORMAT = "striatum.prm/v1"
KINDS = ("progress", "pairwise", "success")
PAD, UNK = "[PAD]", "[UNK]"
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Args:
    data: str
    """comma-separated dataset directories written by `striatum record --frames CAMERA` (meta.json, frames_*.npy)"""
    out: str
    """output directory for <kind>.onnx, <kind>.json, tokenizer.json and README.md, e.g. models/push-prm"""
    kinds: str = "progress,pairwise,success"
    """comma-separated model kinds to train"""
    camera: str = "top"
    """camera whose frames the models see (frames_<camera>.npy)"""
    window: int = 2
    """frames per progress-model input: the current frame and the ones before it, oldest first"""
    epochs: int = 14
    """passes of --samples-per-epoch freshly drawn samples, for the progress and success models"""
    pairwise_epochs: int = 8
    """the same for the pairwise model, which runs its encoder twice per sample and converges sooner"""
    samples_per_epoch: int = 6144
    """samples drawn (with replacement, from the training episodes) for one epoch"""
    batch_size: int = 64
    """samples per Adam step"""
    lr: float = 2e-3
    """initial learning rate; cosine-annealed to lr/50 over the run"""
    width: int = 32
    """channels of the first conv layer (the next two have twice as many)"""
    hidden: int = 128
    """units of the image feature and of the head's hidden layer"""
    text_dim: int = 32
    """width of the instruction embedding (mean of word embeddings, padding left out)"""
    keypoints: int = 16
    """feature maps read out as positions (spatial soft-argmax), each giving an (x, y) in [-1, 1]"""
    pool: int = 2
    """average-pooling factor applied to the frames inside the model before the convolutions"""
    bins: int = 10
    """bins of the progress value head: progress = sum(softmax(logits) * linspace(0, 1, bins))"""
    progress_step: float = 0.01
    """the progress output is rounded to this step inside the model (0: not rounded); see the model card"""
    value_mse_weight: float = 5.0
    """weight of the squared error of the expected progress, added to the bins' two-hot cross-entropy"""
    max_length: int = 16
    """token ids per instruction (padded with [PAD] or cut)"""
    reversed_fraction: float = 0.2
    """fraction of progress samples taken from clips played backwards (labelled with their frames' progress)"""
    start_pair_fraction: float = 0.15
    """fraction of pairwise samples whose frame a is the episode's first frame (forward perspective)"""
    pair_max_gap: int = 20
    """largest |b - a| in frames for the other pairwise samples"""
    pairwise_label: str = "diff"
    """diff: progress(b) - progress(a); hop: that difference relative to what was left (VLAC, Robo-Dopamine), which
    is what Striatum's ProgressIntegrator expects; see the model card"""
    success_negatives: float = 3.0
    """negative frames drawn per positive one for the success classifier (the HIL-SERL lesson: 2-3x)"""
    hard_negative_fraction: float = 0.5
    """fraction of the success negatives drawn from frames with progress >= --hard-negative-progress (near misses)"""
    hard_negative_progress: float = 0.8
    """progress (as labelled) at or above which a negative frame counts as a near miss"""
    progress_label: str = "success"
    """success: progress = clip((d0 - d) / (d0 - r), 0, 1), 1 from the success radius r on (ProcVLM-style: each
    episode scaled so that success reads 1; needs initial_distance and success_radius in meta.json); raw: the
    recorder's clip(1 - d/d0, 0, 1), which tops out below 1 at success"""
    done_updates: int = 1
    """success answers in a row the runtime's done rule asks for (shaping.done_updates); the threshold is calibrated for it"""
    augment: bool = True
    """random flips and quarter turns of the whole top view, the same for every frame of a sample"""
    val_fraction: float = 0.15
    """fraction of each dataset's episodes held out for validation (split by episode)"""
    seed: int = 1
    """seed for python, numpy and torch, the episode split and the sample draws"""
    threads: int = 2
    """CPU threads for torch and OpenBLAS"""
    name: str = ""
    """prefix of the model names in the metadata; empty means '<task>' (push-progress, push-pairwise, ...)"""
    version: str = ""
    """version in the metadata; empty means 'prm-YYYYmmddHHMMSS' (UTC)"""
    metadata_check: str = "dist/src/reward/metadata.js"
    """built src/reward/metadata.js (relative to the repo or absolute) to validate the metadata with node; skipped when absent"""


def parse_args(argv: list[str] | None = None) -> Args:
    parser = dataclass_parser(Args, "prm.py", (__doc__ or "").splitlines()[0])
    args = Args(**vars(parser.parse_args(argv)))
    for name in ("window", "epochs", "pairwise_epochs", "samples_per_epoch", "batch_size", "width", "hidden", "text_dim", "keypoints", "pool",
                 "max_length", "pair_max_gap", "threads", "done_updates"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.bins < 2:
        parser.error("--bins must be at least 2")
    if not args.lr > 0:
        parser.error("--lr must be positive")
    for name in ("val_fraction",):
        if not 0 <= getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be in [0, 1)")
    if args.progress_label not in ("success", "raw"):
        parser.error("--progress-label must be success or raw")
    for name in ("reversed_fraction", "start_pair_fraction", "hard_negative_fraction", "hard_negative_progress"):
        if not 0 <= getattr(args, name) <= 1:
            parser.error(f"--{name.replace('_', '-')} must be in [0, 1]")
    if not 0 <= args.progress_step < 0.5:
        parser.error("--progress-step must be in [0, 0.5)")
    if args.pairwise_label not in ("diff", "hop"):
        parser.error("--pairwise-label must be diff or hop")
    if not args.success_negatives > 0:
        parser.error("--success-negatives must be positive")
    unknown = [k for k in args.kinds.split(",") if k not in KINDS]
    if unknown or not args.kinds:
        parser.error(f"--kinds: unknown kind {unknown[0] if unknown else '(none)'}; choose from {', '.join(KINDS)}")
    return args


# ---------------------------------------------------------------------------------------------------------------
# Tokenizer: words of the instructions, Hugging Face `tokenizers` WordLevel format, so any HF-compatible reader
# (and src/cli/prm-eval.ts) turns an instruction into the same ids: lowercase, split like the Whitespace
# pre-tokenizer (\w+|[^\w\s]+), unknown words -> [UNK], padded with [PAD] (id 0) or cut to max_length.

WORD_PATTERN = re.compile(r"\w+|[^\w\s]+")


def build_vocab(instructions: typing.Iterable[str]) -> dict[str, int]:
    words = sorted({w for text in instructions for w in WORD_PATTERN.findall(text.lower())})
    return {token: i for i, token in enumerate([PAD, UNK, *words])}


def encode(text: str, vocab: dict[str, int], max_length: int) -> np.ndarray:
    ids = [vocab.get(w, vocab[UNK]) for w in WORD_PATTERN.findall(text.lower())][:max_length]
    return np.array(ids + [vocab[PAD]] * (max_length - len(ids)), np.int64)


def tokenizer_json(vocab: dict[str, int], max_length: int) -> dict[str, typing.Any]:
    def special(token: str) -> dict[str, typing.Any]:
        return {"id": vocab[token], "content": token, "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": False, "special": True}

    return {
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": max_length, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": max_length}, "direction": "Right", "pad_to_multiple_of": None,
                    "pad_id": vocab[PAD], "pad_type_id": 0, "pad_token": PAD},
        "added_tokens": [special(PAD), special(UNK)],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": UNK},
    }


# ---------------------------------------------------------------------------------------------------------------
# Data: every dataset's frames of one camera, concatenated; episodes are contiguous runs of frame rows.


@dataclass
class Frames:
    images: np.ndarray  # uint8 [F, H, W, 3]
    progress: np.ndarray  # float32 [F], ground truth of the state each frame shows
    success: np.ndarray  # bool [F]
    episode: np.ndarray  # int64 [F], global episode id (index into the per-episode arrays below)
    starts: np.ndarray  # int64 [E], first frame row of each episode
    ends: np.ndarray  # int64 [E], one past its last frame row
    tokens: np.ndarray  # int64 [E, max_length]
    instructions: list[str]
    episode_success: np.ndarray  # bool [E]
    dataset: np.ndarray  # int64 [E], index into the list of datasets load_frames returns


def success_scaled_progress(raw: np.ndarray, initial_distance: float, success_radius: float) -> np.ndarray:
    """The recorder's progress p = 1 - d/d0 rescaled so the success radius r reads 1: clip((d0 - d) / (d0 - r), 0, 1)
    = clip(p * d0 / (d0 - r), 0, 1). Per episode (d0 is its own), so every success frame is labelled 1 and the
    scale is the same whether the episode succeeds or not: a property of the state, not of the outcome."""
    span = max(initial_distance - success_radius, 1e-6)
    return np.clip(raw.astype(np.float64) * initial_distance / span, 0.0, 1.0).astype(np.float32)


def load_frames(directories: list[Path], camera: str, progress_label: str = "raw") -> tuple[Frames, list[dict[str, typing.Any]]]:
    """Load and check the recordings; tokens are filled in later (the vocabulary comes from them)."""
    images, progress, success = [], [], []
    starts, ends, instructions, episode_success, dataset_of = [], [], [], [], []
    datasets: list[dict[str, typing.Any]] = []
    offset = 0
    size: tuple[int, int] | None = None
    for d_index, directory in enumerate(directories):
        meta_path = directory / "meta.json"
        if not meta_path.is_file():
            raise TrainerError(f"missing {meta_path}")
        try:
            meta = json.loads(meta_path.read_text())
        except (ValueError, OSError) as error:
            raise TrainerError(f"cannot read {meta_path}: {error}") from None
        frames_meta = meta.get("frames")
        if not isinstance(frames_meta, dict) or camera not in [c.get("name") for c in frames_meta.get("cameras", [])]:
            raise TrainerError(f"{directory} has no frames of camera '{camera}'; record it with --frames {camera}")
        rgb = load_array(directory / f"frames_{camera}.npy", 4)
        step = load_array(directory / "frame_step.npy", 1)
        ep = load_array(directory / "frame_episode.npy", 1)
        prog = load_array(directory / "frame_progress.npy", 1)
        succ = load_array(directory / "frame_success.npy", 1)
        if rgb.dtype != np.uint8 or rgb.shape[3] != 3:
            raise TrainerError(f"frames_{camera}.npy in {directory} is {rgb.dtype} {list(rgb.shape)}, expected uint8 [F, H, W, 3]")
        if not len(rgb) == len(step) == len(ep) == len(prog) == len(succ):
            raise TrainerError(
                f"frame counts differ in {directory}: frames_{camera}.npy {len(rgb)}, frame_step.npy {len(step)}, "
                f"frame_episode.npy {len(ep)}, frame_progress.npy {len(prog)}, frame_success.npy {len(succ)}"
            )
        if size is None:
            size = (rgb.shape[1], rgb.shape[2])
        elif size != (rgb.shape[1], rgb.shape[2]):
            raise TrainerError(f"{directory}: frames are {rgb.shape[1]}x{rgb.shape[2]}, earlier datasets {size[0]}x{size[1]}")
        if not np.isfinite(prog).all() or prog.min() < 0 or prog.max() > 1:
            raise TrainerError(f"{directory}: frame_progress.npy has values outside [0, 1]")
        by_index = {int(e["index"]): e for e in meta.get("episodes", [])}
        for e_index in np.unique(ep):
            rows = np.flatnonzero(ep == e_index)
            if rows[-1] - rows[0] + 1 != len(rows):
                raise TrainerError(f"{directory}: episode {e_index} is split over non-adjacent frame rows")
            entry = by_index.get(int(e_index))
            if entry is None or not isinstance(entry.get("instruction"), str):
                raise TrainerError(f"{directory}: episode {e_index} has frames but no meta.json entry with an instruction")
            if progress_label == "success":
                d0, radius = entry.get("initial_distance"), meta.get("success_radius")
                if not isinstance(d0, (int, float)) or not isinstance(radius, (int, float)):
                    raise TrainerError(f"{directory}: --progress-label success needs initial_distance per episode and success_radius in meta.json (record again)")
                prog = prog.astype(np.float32, copy=True) if prog.dtype != np.float32 or not prog.flags.writeable else prog
                prog[rows] = success_scaled_progress(prog[rows], float(d0), float(radius))
            starts.append(offset + rows[0])
            ends.append(offset + rows[-1] + 1)
            instructions.append(entry["instruction"])
            episode_success.append(bool(entry.get("success")))
            dataset_of.append(d_index)
        images.append(rgb)
        progress.append(prog.astype(np.float32))
        success.append(succ.astype(bool))
        datasets.append({
            "path": str(directory), "source": meta.get("source", "expert"), "task": meta.get("task", "push"),
            "episodes": int(len(np.unique(ep))), "frames": int(len(rgb)), "hz": frames_meta.get("hz"),
            "successes": int(sum(1 for e in by_index.values() if e.get("success"))),
        })
        offset += len(rgb)
    order = np.argsort(np.array(starts), kind="stable")  # episodes in frame-row order
    frames = Frames(
        images=np.concatenate(images) if len(images) > 1 else images[0],
        progress=np.concatenate(progress),
        success=np.concatenate(success),
        episode=np.empty(offset, np.int64),
        starts=np.array(starts, np.int64)[order],
        ends=np.array(ends, np.int64)[order],
        tokens=np.zeros((0, 0), np.int64),
        instructions=[instructions[i] for i in order],
        episode_success=np.array(episode_success, bool)[order],
        dataset=np.array(dataset_of, np.int64)[order],
    )
    for e, (s, t) in enumerate(zip(frames.starts, frames.ends)):
        frames.episode[s:t] = e
    return frames, datasets


# ---------------------------------------------------------------------------------------------------------------
# Labels and windows. A clip is an episode's frames as shown to the model: forward, or played backwards.


def window_rows(current: np.ndarray, starts: np.ndarray, ends: np.ndarray, window: int, reverse: np.ndarray) -> np.ndarray:
    """Frame rows [N, window] of the window ending at each `current` frame, oldest first, as its clip is shown.

    Forward, the frames before it; played backwards, the frames after it (they are shown before it). Positions
    before the clip's first frame repeat that first frame: at an episode start the window is the first frame
    `window` times, the same padding the runtime uses before it has seen enough frames."""
    offsets = np.arange(window - 1, -1, -1)[None, :]  # oldest first
    forward = np.maximum(current[:, None] - offsets, starts[:, None])
    backward = np.minimum(current[:, None] + offsets, ends[:, None] - 1)
    return np.where(reverse[:, None], backward, forward)


def anchor_rows(starts: np.ndarray, ends: np.ndarray, reverse: np.ndarray) -> np.ndarray:
    """The first frame of each clip as shown: the episode's first frame, or its last when played backwards."""
    return np.where(reverse, ends - 1, starts)


def progress_labels(progress: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Label of a progress sample: the ground-truth progress of the state its current frame shows, whichever way
    the clip plays. A backwards clip is therefore labelled with its episode's progress in reverse order (falling
    when the episode succeeded), which is what a progress model must report when it watches a task being undone."""
    return progress[current]


def pairwise_labels(progress: np.ndarray, a: np.ndarray, b: np.ndarray, label: str = "diff") -> np.ndarray:
    """diff: progress(b) - progress(a), in [-1, 1]; swapping a and b negates it, so reversed pairs are the
    negatives. hop: the same difference as a share of what was left to do (of what had been done, when negative),
    the delta that src/reward/progress-integrator.ts folds in: integrating hops from 0 gives progress back."""
    pa, pb = progress[a].astype(np.float64), progress[b].astype(np.float64)
    delta = pb - pa
    if label == "hop":
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = np.where(delta > 0, delta / (1 - pa), np.where(delta < 0, delta / pa, 0.0))
    return delta.astype(np.float32)


def two_hot(values: torch.Tensor, bins: int) -> torch.Tensor:
    """Targets [N, bins] for values in [0, 1] on bin centres linspace(0, 1, bins): the weight is split between
    the two nearest centres so that the expected value of the target is exactly the value."""
    position = values.clamp(0, 1) * (bins - 1)
    low = position.floor().clamp(max=bins - 2)
    high_weight = position - low
    target = torch.zeros(len(values), bins)
    target.scatter_(1, low.long()[:, None], (1 - high_weight)[:, None])
    target.scatter_add_(1, (low.long() + 1)[:, None], high_weight[:, None])
    return target


def value_order_correlation(values: np.ndarray) -> float:
    """VOC as src/reward/voc.ts computes it: Spearman (average ranks) of the values against time; non-finite
    values left out; constant values or fewer than two score 0."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    n = len(v)
    if n < 2:
        return 0.0
    order = np.argsort(v, kind="stable")
    ranks = np.empty(n)
    sorted_v = v[order]
    start = 0
    while start < n:
        end = start + 1
        while end < n and sorted_v[end] == sorted_v[start]:
            end += 1
        ranks[order[start:end]] = (start + 1 + end) / 2
        start = end
    r = ranks - (n + 1) / 2
    t = np.arange(1, n + 1) - (n + 1) / 2
    if not (r * r).sum() > 0:
        return 0.0
    return float(np.clip((r * t).sum() / np.sqrt((r * r).sum() * (t * t).sum()), -1, 1))


# ---------------------------------------------------------------------------------------------------------------
# Sampling: each epoch draws fresh samples from the training episodes. An episode is drawn first (uniformly),
# then a frame in it, so long stalled or random episodes do not outweigh the short successful ones.


def draw_frames(rng: np.random.Generator, frames: Frames, episodes: np.ndarray, n: int) -> np.ndarray:
    chosen = rng.choice(episodes, size=n)
    return frames.starts[chosen] + (rng.random(n) * (frames.ends[chosen] - frames.starts[chosen])).astype(np.int64)


def progress_batch(rng: np.random.Generator, frames: Frames, episodes: np.ndarray, n: int, args: Args):
    current = draw_frames(rng, frames, episodes, n)
    e = frames.episode[current]
    reverse = rng.random(n) < args.reversed_fraction
    rows = window_rows(current, frames.starts[e], frames.ends[e], args.window, reverse)
    anchor = anchor_rows(frames.starts[e], frames.ends[e], reverse)
    images = (frames.images[anchor], frames.images[rows])
    return images, frames.tokens[e], progress_labels(frames.progress, current)


def pairwise_batch(rng: np.random.Generator, frames: Frames, episodes: np.ndarray, n: int, args: Args):
    a = draw_frames(rng, frames, episodes, n)
    e = frames.episode[a]
    s, t = frames.starts[e], frames.ends[e]
    from_start = rng.random(n) < args.start_pair_fraction
    a = np.where(from_start, s, a)
    gap = rng.integers(-args.pair_max_gap, args.pair_max_gap + 1, size=n)
    b = np.where(from_start, s + (rng.random(n) * (t - s)).astype(np.int64), np.clip(a + gap, s, t - 1))
    images = (frames.images[s], frames.images[a], frames.images[b])
    return images, frames.tokens[e], pairwise_labels(frames.progress, a, b, args.pairwise_label)


def success_pools(frames: Frames, episodes: np.ndarray, hard_progress: float = 0.6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame rows of the training episodes: positives, near-miss negatives (progress >= hard_progress), other negatives."""
    rows = np.flatnonzero(np.isin(frames.episode, episodes))
    positive = rows[frames.success[rows]]
    negative = rows[~frames.success[rows]]
    hard = negative[frames.progress[negative] >= hard_progress]
    return positive, hard, negative


def success_batch(rng: np.random.Generator, frames: Frames, pools, n: int, args: Args):
    positive, hard, negative = pools
    n_pos = int(round(n / (1 + args.success_negatives)))
    n_hard = int(round((n - n_pos) * args.hard_negative_fraction)) if len(hard) else 0
    rows = np.concatenate([
        rng.choice(positive, n_pos), rng.choice(hard, n_hard) if n_hard else np.zeros(0, np.int64),
        rng.choice(negative, n - n_pos - n_hard),
    ])
    rng.shuffle(rows)
    return (frames.images[rows],), frames.tokens[frames.episode[rows]], frames.success[rows].astype(np.float32)


def pixel_stats(frames: Frames, episodes: np.ndarray, pool: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (float32) of up to 2000 training frames, pooled as the model pools them."""
    rows = np.flatnonzero(np.isin(frames.episode, episodes))
    sample = frames.images[np.sort(rng.choice(rows, min(2000, len(rows)), replace=False))].astype(np.float32)
    n, h, w, c = sample.shape
    pooled = sample.reshape(n, h // pool, pool, w // pool, pool, c).mean(axis=(2, 4))
    return pooled.mean(axis=(0, 1, 2)).astype(np.float32), np.maximum(pooled.std(axis=(0, 1, 2)), 1.0).astype(np.float32)


def augment(images: tuple[np.ndarray, ...], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """One random symmetry of the square (a flip, quarter turns) for the whole batch, the same for every frame:
    the table fills the top view and the layout is symmetric, so no label changes. One per batch rather than
    per sample: it costs one copy, and successive batches still see all eight."""
    k = int(rng.integers(0, 8))
    out = []
    for x in images:
        h, w = x.ndim - 3, x.ndim - 2  # NHWC, with or without a window dimension
        y = np.flip(x, axis=w) if k >= 4 else x
        out.append(np.ascontiguousarray(np.rot90(y, k % 4, axes=(h, w))))
    return tuple(out)


# ---------------------------------------------------------------------------------------------------------------
# The networks. Every model takes raw uint8 NHWC frames, as the cameras give them, and does its own scaling,
# layout change and pooling, so the runtime only resizes to the declared size. Frames of one sample are
# stacked on the channel axis (early fusion: the convolutions see motion and the start frame directly).


class TextEmbedding(nn.Module):
    """Mean of the word embeddings, [PAD] (id 0) left out."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = (ids != 0).to(torch.float32).unsqueeze(-1)
        total = (self.embedding(ids) * mask).sum(dim=1)
        return total / mask.sum(dim=1).clamp(min=1.0)


class FrameEncoder(nn.Module):
    """k stacked frames + instruction -> feature vector. Three stride-2 convolutions; the instruction modulates
    the second (FiLM: it says which block and pad to look at). Two readouts of that map: keypoints (the expected
    position of each of K feature maps, a spatial soft-argmax, precise to a fraction of a cell: progress is a
    ratio of distances), and a linear layer over the whole map after the third convolution."""

    def __init__(self, frames: int, size: int, args: Args, vocab_size: int):
        super().__init__()
        self.frames, self.size, self.pool, self.keypoints = frames, size, args.pool, args.keypoints
        w = args.width
        self.conv1 = nn.Conv2d(3 * frames, w, 5, stride=2, padding=2)
        self.conv2 = nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1)
        self.keypoint_maps = nn.Conv2d(2 * w, args.keypoints, 1)
        # Pixel statistics of the training frames, per channel (set_pixel_stats): the frames are mostly table, so
        # unscaled inputs barely vary and training sat on a plateau (the pairwise model for a whole run).
        self.register_buffer("pixel_mean", torch.full((1, 3 * frames, 1, 1), 127.5))
        self.register_buffer("pixel_scale", torch.full((1, 3 * frames, 1, 1), 1 / 255))
        self.text = TextEmbedding(vocab_size, args.text_dim)
        self.film_scale = nn.Linear(args.text_dim, 2 * w)
        self.film_shift = nn.Linear(args.text_dim, 2 * w)
        side = size // args.pool
        sides = []
        for _ in range(3):
            side = (side + 1) // 2
            sides.append(side)
        self.map_side = sides[1]
        centres = (torch.arange(self.map_side, dtype=torch.float32) + 0.5) / self.map_side * 2 - 1
        grid_y, grid_x = torch.meshgrid(centres, centres, indexing="ij")
        self.register_buffer("grid", torch.stack([grid_x.flatten(), grid_y.flatten()], dim=1))  # [cells, 2]
        self.fc = nn.Linear(2 * w * sides[2] * sides[2], args.hidden)
        self.out_dim = args.hidden + 2 * args.keypoints + args.text_dim

    def set_pixel_stats(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Normalize each colour channel of every stacked frame by the training frames' mean and std."""
        self.pixel_mean.copy_(torch.from_numpy(np.tile(mean, self.frames)).reshape(1, -1, 1, 1))
        self.pixel_scale.copy_(torch.from_numpy(np.tile(1 / std, self.frames)).reshape(1, -1, 1, 1))

    def forward(self, stacked: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        # stacked: uint8 [B, frames, H, W, 3]. Reshape with constant sizes: the exported graph has no Shape ops.
        x = stacked.permute(0, 1, 4, 2, 3).reshape(-1, 3 * self.frames, self.size, self.size).to(torch.float32)
        if self.pool > 1:
            x = F.avg_pool2d(x, self.pool)  # before scaling: pool² times fewer values to scale
        x = (x - self.pixel_mean) * self.pixel_scale
        x = F.relu(self.conv1(x))
        text = self.text(ids)
        scale = 1 + self.film_scale(text)[:, :, None, None]
        x = F.relu(self.conv2(x) * scale + self.film_shift(text)[:, :, None, None])
        maps = self.keypoint_maps(x).reshape(-1, self.keypoints, self.map_side * self.map_side)
        keypoints = torch.matmul(maps.softmax(dim=2), self.grid).reshape(-1, 2 * self.keypoints)
        x = F.relu(self.conv3(x))
        x = F.relu(self.fc(x.flatten(1)))
        return torch.cat([x, keypoints, text], dim=1)


class PrmNet(nn.Module):
    """One model kind. forward() gives what the loss needs (logits); output() turns that into what the runtime reads."""

    def __init__(self, kind: str, size: int, args: Args, vocab_size: int):
        super().__init__()
        self.kind, self.vocab_size, self.progress_step = kind, vocab_size, args.progress_step
        # A pairwise model encodes (start, a) and (start, b) with one encoder and compares the two features.
        frames = {"progress": 1 + args.window, "pairwise": 2, "success": 1}[kind]
        self.encoder = FrameEncoder(frames, size, args, vocab_size)
        outputs = args.bins if kind == "progress" else 1
        features = self.encoder.out_dim * (3 if kind == "pairwise" else 1)
        self.head = nn.Sequential(nn.Linear(features, args.hidden), nn.ReLU(), nn.Linear(args.hidden, outputs))
        self.register_buffer("bin_centres", torch.linspace(0, 1, args.bins), persistent=False)

    def forward(self, images: tuple[torch.Tensor, ...], ids: torch.Tensor) -> torch.Tensor:
        """images: the start frame first (progress, pairwise), then the window (progress) or frames a and b."""
        def stack(parts: typing.Sequence[torch.Tensor]) -> torch.Tensor:
            return torch.cat([x if x.dim() == 5 else x.unsqueeze(1) for x in parts], dim=1)

        if self.kind == "pairwise":
            start, a, b = images
            feature_a, feature_b = self.encoder(stack([start, a]), ids), self.encoder(stack([start, b]), ids)
            return self.head(torch.cat([feature_b - feature_a, feature_a, feature_b], dim=1))
        return self.head(self.encoder(stack(images), ids))

    def output(self, raw: torch.Tensor, rounded: bool = True) -> torch.Tensor:
        """The exported output, [B, 1]: the value head summed inside the graph (and rounded), tanh, or sigmoid."""
        if self.kind == "progress":
            value = (raw.softmax(dim=1) * self.bin_centres).sum(dim=1, keepdim=True)
            # Rounded so the model claims no order it cannot resolve: frames of equal true progress (the flat
            # start, a stall) get equal values instead of an order made of noise at the 0.001 level.
            if rounded and self.progress_step > 0:
                value = torch.round(value * (1 / self.progress_step)) * self.progress_step
            return value
        if self.kind == "pairwise":
            return torch.tanh(raw)
        return torch.sigmoid(raw)


class Exported(nn.Module):
    """The ONNX signature of a kind: named inputs in metadata order, one [B, 1] output."""

    def __init__(self, net: PrmNet):
        super().__init__()
        self.net = net

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        *images, ids = inputs
        # The network stacks the start frame first: progress inputs are (frames, start_frame), pairwise inputs
        # (frame_a, frame_b, start_frame), and training batches put the start frame first.
        if self.net.kind == "progress":
            images = [images[1], images[0]]
        elif self.net.kind == "pairwise":
            images = [images[2], images[0], images[1]]
        return self.net.output(self.net(tuple(images), ids))


def signature(kind: str, size: int, args: Args) -> tuple[list[dict[str, typing.Any]], list[dict[str, typing.Any]]]:
    """Declared inputs (in ONNX order) and outputs of a kind, as they go into the metadata."""
    frame = [size, size, 3]
    ids = {"name": "input_ids", "role": "text_ids", "shape": [-1, args.max_length], "dtype": "int64"}
    start = {"name": "start_frame", "role": "start_image", "shape": [-1, *frame], "dtype": "uint8"}
    if kind == "progress":
        inputs = [{"name": "frames", "role": "image", "shape": [-1, args.window, *frame], "dtype": "uint8"}, start, ids]
    elif kind == "pairwise":
        inputs = [{"name": "frame_a", "role": "image", "shape": [-1, *frame], "dtype": "uint8"},
                  {"name": "frame_b", "role": "image", "shape": [-1, *frame], "dtype": "uint8"}, start, ids]
    else:
        inputs = [{"name": "frame", "role": "image", "shape": [-1, *frame], "dtype": "uint8"}, ids]
    output = {"progress": "progress", "pairwise": "delta", "success": "success"}[kind]
    return inputs, [{"name": output, "role": output, "shape": [-1, 1], "dtype": "float32"}]


def example_inputs(kind: str, size: int, args: Args, vocab_size: int, batch: int, seed: int = 0) -> list[np.ndarray]:
    """Random inputs in the declared signature: any pixels, any known token ids."""
    rng = np.random.default_rng(seed)
    inputs, _ = signature(kind, size, args)
    out = []
    for spec in inputs:
        shape = [batch, *spec["shape"][1:]]
        if spec["dtype"] == "uint8":
            out.append(rng.integers(0, 256, size=shape, dtype=np.uint8))
        else:
            out.append(rng.integers(0, vocab_size, size=shape).astype(np.int64))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Export and its check. onnxruntime is not available to Python here and onnx 1.12 has no reference evaluator,
# so the numbers are compared with a small numpy evaluator for the ops these graphs export.


def export_onnx(net: PrmNet, size: int, args: Args) -> bytes:
    net.eval()
    inputs, outputs = signature(net.kind, size, args)
    example = tuple(torch.from_numpy(x) for x in example_inputs(net.kind, size, args, net.vocab_size, batch=2))
    buffer = io.BytesIO()
    options: dict[str, typing.Any] = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        options["dynamo"] = False  # the dynamo exporter needs onnxscript, which Debian does not package
    names = [i["name"] for i in inputs] + [o["name"] for o in outputs]
    with warnings.catch_warnings():
        # torch 1.13 warns that it cannot infer the shape of constants it then folds; the graph is checked below.
        warnings.filterwarnings("ignore", message="The shape inference of prim::Constant type is missing")
        torch.onnx.export(
            Exported(net), example, buffer,
            input_names=[i["name"] for i in inputs], output_names=[o["name"] for o in outputs],
            dynamic_axes={name: {0: "batch"} for name in names},
            opset_version=ONNX_OPSET, do_constant_folding=True, **options,
        )
    model = onnx.load_model_from_string(buffer.getvalue())
    # Declare the fixed output width, so that the runtime can check it at load against the metadata.
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 1
    model.doc_string = f"striatum PRM ({net.kind}), trainer/prm.py"
    return model.SerializeToString()


def verify_onnx(model_bytes: bytes, net: PrmNet, size: int, args: Args) -> str:
    """Check the graph, its signature against the metadata's, and its numbers against torch's."""
    model = onnx.load_model_from_string(model_bytes)
    onnx.checker.check_model(model, full_check=True)
    inputs, outputs = signature(net.kind, size, args)
    elem = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.UINT8: "uint8", onnx.TensorProto.INT64: "int64"}
    got = [(v.name, graph_shape(v), elem.get(v.type.tensor_type.elem_type)) for v in [*model.graph.input, *model.graph.output]]
    want = [(t["name"], t["shape"], t["dtype"]) for t in [*inputs, *outputs]]
    if got != want:
        raise TrainerError(f"exported {net.kind} graph has inputs/outputs {got}, expected {want}")
    example = example_inputs(net.kind, size, args, net.vocab_size, batch=3, seed=1)
    net.eval()
    with torch.no_grad():
        expected = Exported(net)(*(torch.from_numpy(x) for x in example)).numpy()
    result = run_numpy(model, {t["name"]: x for t, x in zip(inputs, example)})[0]
    if result.shape != expected.shape or not np.allclose(result, expected, rtol=1e-3, atol=1e-4):
        raise TrainerError(f"{net.kind}: ONNX output differs from torch (max abs difference {np.abs(result - expected).max()})")
    return "numpy"


def check_metadata_with_node(paths: list[Path], metadata_js: str) -> str:
    """Validate metadata files with the zod schema itself (parsePrmMetadata) when a build and node exist."""
    script = Path(metadata_js) if Path(metadata_js).is_absolute() else REPO / metadata_js
    node = shutil.which("node")
    if node is None or not script.is_file():
        return f"skipped ({'node' if node is None else script} not found)"
    code = (
        "const [m, ...files] = process.argv.slice(1);"
        "import(m).then(({ parsePrmMetadata }) => { const fs = require('node:fs');"
        "for (const f of files) parsePrmMetadata(JSON.parse(fs.readFileSync(f, 'utf8')), f); })"
        ".catch((e) => { console.error(e.message + (e.details ? ': ' + e.details.join('; ') : '')); process.exit(1); });"
    )
    result = subprocess.run([node, "-e", code, script.resolve().as_uri(), *map(str, paths)], capture_output=True, text=True)
    if result.returncode != 0:
        raise TrainerError(f"metadata refused by {script}: {result.stderr.strip()}")
    return "zod"


# ---------------------------------------------------------------------------------------------------------------
# Metadata and the model card.


def prm_metadata(*, kind: str, name: str, version: str, created: str, sha256: str, size: int, args: Args,
                 training: dict[str, typing.Any]) -> dict[str, typing.Any]:
    inputs, outputs = signature(kind, size, args)
    return {
        "format": METADATA_FORMAT,
        "name": name,
        "version": version,
        "kind": kind,
        "created": created,
        "model": f"{kind}.onnx",
        "sha256": sha256,
        "inputs": inputs,
        "outputs": outputs,
        # Raw camera pixels: the model scales, normalizes and pools them itself (uint8 carries no mean/std).
        "preprocessing": {
            "crop": None, "resize": {"width": size, "height": size}, "channel_order": "rgb", "layout": "nhwc",
            "dtype": "uint8", "scale": 1, "mean": [0, 0, 0], "std": [1, 1, 1],
        },
        "text": {"tokenizer": "tokenizer.json", "max_length": args.max_length},
        "frames": {"window": args.window if kind == "progress" else 1, "start_anchor": kind != "success"},
        "training": training,
    }


def fmt(value: typing.Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def model_card(args: Args, datasets: list[dict[str, typing.Any]], split: dict[str, int], results: dict[str, dict],
               vocab: dict[str, int], size: int, created: str, version: str) -> str:
    data_rows = "\n".join(
        f"| `{d['path']}` | {d['source']} | {d['episodes']} | {d['successes']} | {d['frames']} |" for d in datasets
    )
    arg_rows = "\n".join(  # the metadata check is where to find a build, not how the models were made
        f"| `--{k.replace('_', '-')}` | {'(auto)' if v == '' else f'`{v}`'} |"
        for k, v in dataclasses.asdict(args).items() if k != "metadata_check"
    )
    sections = []
    for kind, r in results.items():
        every = max(1, len(r["history"]) // 7)
        rows = "\n".join(
            f"| {h['epoch']} | {fmt(h['losses/train'], 4)} | {fmt(h['losses/val'], 4)} |"
            for h in r["history"] if h["epoch"] % every == 0 or h["epoch"] in (1, len(r["history"]))
        )
        metrics = "\n".join(f"| {k} | {fmt(v)} |" for k, v in r["val"].items())
        sections.append(
            f"### {kind}: `{kind}.onnx` ({r['bytes'] / 1e6:.2f} MB, {r['parameters']:,} parameters, "
            f"trained in {r['seconds']:.0f} s)\n\nsha256 `{r['sha256']}`\n\n| epoch | train loss | val loss |\n|---|---|---|\n"
            f"{rows}\n\nOn the {split['val']} validation episodes (all their frames):\n\n| metric | value |\n|---|---|\n{metrics}\n"
        )
    step = f"{args.progress_step:g}"
    label = ("progress(b) - progress(a)" if args.pairwise_label == "diff" else
             "the hop (progress(b) - progress(a)) / (1 - progress(a)), or / progress(a) when negative")
    return f"""# push-prm {version}: demo process-reward models for the sim's push task

Three small vision-language process-reward models trained on the simulator's `{args.camera}` camera renders
by `trainer/prm.py` (torch {torch.__version__}), created {created}. Demo quality: they know this one
simulated task and nothing else. Each `<kind>.onnx` (opset {ONNX_OPSET}) has its `striatum.prm/v1` metadata in
`<kind>.json` (src/reward/metadata.ts) and they share `tokenizer.json` (Hugging Face `tokenizers` WordLevel,
Lowercase + Whitespace, {len(vocab)} tokens: {', '.join(f'`{t}`' for t in vocab)}; ids padded with `[PAD]` = 0 to
{args.max_length}).

| model | inputs | output |
|---|---|---|
| `progress` | `frames` uint8 [B, {args.window}, {size}, {size}, 3] (oldest first), `start_frame` uint8 [B, {size}, {size}, 3], `input_ids` int64 [B, {args.max_length}] | `progress` [B, 1] in [0, 1], in steps of {step} |
| `pairwise` | `frame_a`, `frame_b`, `start_frame` uint8 [B, {size}, {size}, 3], `input_ids` | `delta` [B, 1] in [-1, 1]: {label} |
| `success` | `frame` uint8 [B, {size}, {size}, 3], `input_ids` | `success` [B, 1], a score in [0, 1] |

**What the runtime feeds.** Raw RGB camera pixels, NHWC uint8, {size}x{size}: the `top` camera's size in
examples/sim.yaml, so nothing is resized (metadata `preprocessing`: uint8, identity scale). Inside the graph the
models average-pool by {args.pool} and standardize each colour channel with the mean and std of the training
frames. The progress window is consecutive camera frames ({datasets[0]['hz']} Hz), oldest first; until the
episode has {args.window}, its first frame is repeated. `start_frame` is the episode's first frame
(`frames.start_anchor`): progress is 1 - d/d0, and d0, the block's starting distance from the pad, is only
visible there.

## Networks

One encoder design for all three (about 0.4 M parameters each): the stacked frames (start frame first, then the
window, or frame a/b) go through three 3x3/5x5 stride-2 convolutions; the instruction (mean of word embeddings,
`[PAD]` left out) modulates the second one (FiLM: it selects which block and pad matter); that map is read out
twice, as {args.keypoints} keypoints (spatial soft-argmax: the expected position of each map, finer than its
cells) and through a third convolution and a linear layer; an MLP head on [features, keypoints, text] gives
- **progress**: {args.bins} logits; progress = sum(softmax * linspace(0, 1, {args.bins})) inside the graph (ProcVLM's
  value head), then rounded to {step}. The rounding is deliberate: VOC ranks the predictions, and frames whose
  true progress is equal (the flat start while the pusher walks to the block, a stall) would otherwise be
  ordered by noise far below the model's accuracy; rounded, they tie, as the ground truth does.
- **pairwise**: the encoder runs on (start, a) and on (start, b); the head sees [f_b - f_a, f_a, f_b]; tanh.
- **success**: one frame; sigmoid.

## Data

`striatum record --frames top --progress --source ...` (see Regenerate). Labels are the simulator's ground
truth per frame, d the instructed block's distance from the instructed pad, d0 its distance at reset, r = 3.5 cm
the success radius: success = d <= r; progress (`--progress-label success`, ProcVLM-style) = clip((d0 - d) / (d0 - r),
0, 1), each episode scaled by its own d0 so that every success frame reads 1 (the recorder's clip(1 - d/d0, 0, 1)
tops out near 0.9 at success, which is why the first demo model could not say success). Recorded with
`--after-success 2`: as in a learning-mode episode the simulator runs on 2 s after its first success frame, so
successful episodes carry every frame the block spends on the pad (and, for the shipped policy, the frames where
it pushes the block on across the pad). `policy-noisy` is the shipped BC policy `models/push` with noise scaled
per episode (a quarter clean): the policy's own failure modes. Every seed range: docs/seeds.md.

| dataset | source | episodes | successful | frames |
|---|---|---|---|---|
{data_rows}

Split by episode within each dataset: {split['train']} episodes for training, {split['val']} for validation. The
evaluation below uses separate recordings with seeds never used here.

## Training

Each epoch draws `--samples-per-epoch` fresh samples from the training episodes (an episode uniformly, then a
frame in it, so long stalled episodes do not outweigh short successful ones), with one random flip/quarter turn
of the whole view per batch (the table fills the top view and the layout sampler is symmetric: labels do not
change). Adam, cosine learning rate from {args.lr:g}, batch {args.batch_size}.

- **progress**: label = ground-truth progress of the current frame. Negatives: the failed, stalled and random
  episodes with their true (partial, flat or falling) progress, and reversed clips ({args.reversed_fraction:.0%}
  of samples): the episode played backwards, window and start frame taken as shown (the start frame is then the
  episode's last), each frame labelled with its own progress, so the labels run in reverse order. This is the
  state-based choice: progress is a property of the state, and a model watching the task being undone must
  report it falling (what VLAC's reversed-video VOC asks). Loss: two-hot cross-entropy over the bins (the
  target's expected value is the label) + {args.value_mse_weight:g} x squared error of the expected value.
- **pairwise**: (a, b) from one episode, |b - a| <= {args.pair_max_gap} frames in either order (every pair also
  appears reversed, with the negated label), {args.start_pair_fraction:.0%} with a = the first frame (Robo-Dopamine's
  forward perspective); label {label}; squared error after tanh.
  With `diff` labels, H(start, s) and 1 + H(goal, s) are progress as the multi-perspective fusion expects, but
  src/reward/progress-integrator.ts reads a delta as a share of what was left to do (c * (1 - phi)): fed frame to
  frame, plain differences under-read (on the held-out expert episodes, integrating the true differences ends at
  0.60 instead of 0.89). `--pairwise-label hop` trains the delta that rule integrates exactly.
- **success**: positives are the frames the sim marks successful; each batch has {args.success_negatives:g} negatives
  per positive (the HIL-SERL lesson), {args.hard_negative_fraction:.0%} of them near misses (progress >= {args.hard_negative_progress}).
  Binary cross-entropy. The training prior is {1 / (1 + args.success_negatives):.0%} positive, far above the
  natural one: the output is a score to threshold. The threshold is calibrated per episode on the validation
  episodes for the done rule (`--done-updates` answers in a row): the lowest at which it would fire on at most 1%
  of the negatives, the failed validation episodes and the successful ones before their first success frame (a
  rule that fires there ends an episode in success too early); the evaluation below checks it on held-out episodes.

| argument | value |
|---|---|
{arg_rows}

## Losses and validation

{chr(10).join(sections)}
## Evaluation with Striatum's VOC (src/reward/voc.ts)

<!-- prm-eval:begin -->
_Not yet evaluated: run `striatum prm eval ... --card` (see Regenerate)._
<!-- prm-eval:end -->

## The reward signal: success detection and return ranking

<!-- prm-success:begin -->
_Not yet evaluated: run `striatum prm eval ... --success ... --card` (see Regenerate)._
<!-- prm-success:end -->

`test/prm-card.test.ts` re-records the held-out check episodes below (the shipped policy with noise, seeds
510000–510007) and replays them through the same code with the shipped models: per episode the ground truth, the
frame the done rule fired (null: never) and the PRM-only return must be these.

<!-- prm-check:begin -->
```json
{{}}
```
<!-- prm-check:end -->

## Regenerate

About 10 minutes on 2 CPU cores (recording under a minute, training {sum(r['seconds'] for r in results.values()) / 60:.0f} min, evaluation seconds).

```sh
npx tsc -p tsconfig.json   # the CLI, and dist/src/reward/metadata.js for the trainer's metadata check
for s in expert:10000:300 noisy-expert:20000:150 stall:30000:40 random:40000:20 policy-noisy:50000:200; do
  IFS=: read src seed n <<< "$s"
  node dist/src/cli/main.js record --config examples/sim.yaml --frames top --progress --source $src \\
    --seed $seed --episodes $n --after-success 2 --out data/prm/$src; done
for s in expert:110000:40 noisy-expert:120000:40 stall:130000:10 policy-noisy:150000:100; do IFS=: read src seed n <<< "$s"
  node dist/src/cli/main.js record --config examples/sim.yaml --frames top --progress --source $src \\
    --seed $seed --episodes $n --after-success 2 --out data/prm-test/$src; done
/usr/bin/python3 trainer/prm.py --data data/prm/expert,data/prm/noisy-expert,data/prm/stall,data/prm/random,data/prm/policy-noisy \\
  --out models/push-prm --kinds progress,success --epochs 10 --done-updates 1
node dist/src/cli/main.js prm eval --model models/push-prm/progress.json --success models/push-prm/success.json \\
  --success-threshold THRESHOLD --done-updates 1 \\
  --data data/prm-test/expert,data/prm-test/noisy-expert,data/prm-test/stall,data/prm-test/policy-noisy --card models/push-prm/README.md
STRIATUM_UPDATE_CARD=1 node --test dist/test/prm-card.test.js   # the card's check episodes (seeds 510000–510007)
```

## Limitations

Trained on one simulated task, one camera, clean renders and four instructions: no real images, no other colours
or layouts than the sim's sampler makes. The success boundary (3.5 cm) is about 4 pixels of the 96x96 view: frames
with the block just outside it are the success model's hardest negatives. Progress is clipped at 0:
pushing the block away from the pad reads as no progress, not as negative. The progress output moves in steps of
{step}: slower progress shows as occasional steps rather than a ramp.
"""


# ---------------------------------------------------------------------------------------------------------------
# Training.


def to_torch(images: tuple[np.ndarray, ...], tokens: np.ndarray, labels: np.ndarray):
    return tuple(torch.from_numpy(np.ascontiguousarray(x)) for x in images), torch.from_numpy(tokens), torch.from_numpy(labels)


def loss_fn(net: PrmNet, raw: torch.Tensor, labels: torch.Tensor, args: Args) -> torch.Tensor:
    if net.kind == "progress":
        log_p = raw.log_softmax(dim=1)
        expected = (log_p.exp() * net.bin_centres).sum(dim=1)
        return -(two_hot(labels, args.bins) * log_p).sum(dim=1).mean() + args.value_mse_weight * F.mse_loss(expected, labels)
    if net.kind == "pairwise":
        return F.mse_loss(torch.tanh(raw[:, 0]), labels)
    return F.binary_cross_entropy_with_logits(raw[:, 0], labels)


def predict(net: PrmNet, images: tuple[np.ndarray, ...], tokens: np.ndarray, batch: int = 256, rounded: bool = True) -> np.ndarray:
    """The exported output for every row, in eval mode."""
    net.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(tokens), batch):
            part = tuple(torch.from_numpy(np.ascontiguousarray(x[start : start + batch])) for x in images)
            out.append(net.output(net(part, torch.from_numpy(tokens[start : start + batch])), rounded)[:, 0].numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def episode_clip(frames: Frames, e: int, window: int, reverse: bool):
    """Inputs of a progress model over a whole episode as shown (forward or backwards), in shown order."""
    s, t = frames.starts[e], frames.ends[e]
    current = np.arange(t - 1, s - 1, -1) if reverse else np.arange(s, t)
    n = len(current)
    flags = np.full(n, reverse)
    rows = window_rows(current, np.full(n, s), np.full(n, t), window, flags)
    anchor = anchor_rows(np.full(n, s), np.full(n, t), flags)
    return (frames.images[anchor], frames.images[rows]), np.repeat(frames.tokens[e][None], n, axis=0), current


def validate(net: PrmNet, frames: Frames, val: np.ndarray, args: Args, rng: np.random.Generator) -> dict[str, float | None]:
    """Metrics on the held-out episodes, on their natural frame distribution."""
    if len(val) == 0:
        return {}
    if net.kind == "progress":
        errors, voc_ok, voc_ok_raw, voc_rev, voc_fail = [], [], [], [], []
        for e in val:
            images, tokens, current = episode_clip(frames, e, args.window, reverse=False)
            raw = predict(net, images, tokens, rounded=False)
            values = predict(net, images, tokens)
            errors.append(np.abs(raw - frames.progress[current]))
            (voc_ok if frames.episode_success[e] else voc_fail).append(value_order_correlation(values))
            if frames.episode_success[e]:
                voc_ok_raw.append(value_order_correlation(raw))
            if frames.episode_success[e]:
                images, tokens, _ = episode_clip(frames, e, args.window, reverse=True)
                voc_rev.append(value_order_correlation(predict(net, images, tokens)))
        return {
            "mean abs error": float(np.concatenate(errors).mean()),
            "VOC, successful episodes": float(np.mean(voc_ok)) if voc_ok else None,
            "VOC, successful episodes, unrounded output": float(np.mean(voc_ok_raw)) if voc_ok_raw else None,
            "VOC, failed episodes": float(np.mean(voc_fail)) if voc_fail else None,
            "VOC, successful episodes reversed": float(np.mean(voc_rev)) if voc_rev else None,
        }
    if net.kind == "pairwise":
        images, tokens, labels = pairwise_batch(rng, frames, val, 4096, args)
        delta = predict(net, images, tokens)
        moving = np.abs(labels) > 0.02
        return {
            "mean abs error": float(np.abs(delta - labels).mean()),
            "sign accuracy (|label| > 0.02)": float((np.sign(delta[moving]) == np.sign(labels[moving])).mean()),
            "correlation": float(np.corrcoef(delta, labels)[0, 1]),
        }
    rows = np.flatnonzero(np.isin(frames.episode, val))
    score = predict(net, (frames.images[rows],), frames.tokens[frames.episode[rows]])
    truth = frames.success[rows]
    said = score >= 0.5
    hard = ~truth & (frames.progress[rows] >= args.hard_negative_progress)
    threshold, recall, false_positives, early = calibrate_success(score, frames.episode[rows], truth, args.done_updates)
    return {
        f"calibrated threshold (done rule: {args.done_updates} answer(s) in a row)": threshold,
        "episodes caught at that threshold, successful": recall,
        "episodes flagged at that threshold, failed": false_positives,
        "episodes ended before their first success frame at that threshold, successful": early,
        "positive frames": int(truth.sum()),
        "recall at 0.5": float(said[truth].mean()) if truth.any() else None,
        "precision at 0.5": float(truth[said].mean()) if said.any() else None,
        "false-positive rate, all negatives": float(said[~truth].mean()),
        f"false-positive rate, near misses (progress >= {args.hard_negative_progress})": float(said[hard].mean()) if hard.any() else None,
        "ROC AUC": roc_auc(score, truth),
    }


def done_scores(score: np.ndarray, episode: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per episode (frames in time order), the highest score the done rule can pass: the max over t of
    min(score[t : t + k]), i.e. the done rule "k answers in a row at or above the threshold" fires iff the threshold
    is at most this. Returns (episode ids, scores)."""
    ids = np.unique(episode)
    out = np.zeros(len(ids), np.float64)
    for i, e in enumerate(ids):
        s = score[episode == e].astype(np.float64)
        if len(s) < k:
            out[i] = -np.inf
            continue
        out[i] = max(float(s[t:t + k].min()) for t in range(len(s) - k + 1))
    return ids, out


def calibrate_success(score: np.ndarray, episode: np.ndarray, truth: np.ndarray, k: int,
                      max_false_positive: float = 0.01) -> tuple[float, float | None, float | None, float | None]:
    """The lowest threshold (at least 0.5) at which the done rule fires on at most max_false_positive of the
    negatives, judged per episode as the runtime uses it. Negatives are the failed episodes (no success frame) and
    the part of every successful episode before its first success frame: a rule that fires there ends the episode
    in success before the block is on the pad. Returns the threshold and, there, the shares of successful episodes
    caught, of failed ones flagged, and of successful ones the rule would end early."""
    ids, best = done_scores(score, episode, k)
    succeeded = np.array([truth[episode == e].any() for e in ids])
    early = np.full(len(ids), -np.inf)
    for i in np.flatnonzero(succeeded):
        rows = np.flatnonzero(episode == ids[i])
        first = int(np.argmax(truth[rows]))
        if first > 0:
            early[i] = done_scores(score[rows[:first]], np.zeros(first, np.int64), k)[1][0]
    negatives = np.sort(np.concatenate([best[~succeeded], early[succeeded]]))
    threshold = 0.5
    if len(negatives):
        allowed = int(np.floor(max_false_positive * len(negatives)))
        worst = negatives[len(negatives) - 1 - allowed]  # firing only on the `allowed` highest negatives
        if np.isfinite(worst):
            threshold = max(threshold, float(np.nextafter(np.float32(worst), np.float32(1))))
    threshold = float(min(threshold, 0.999))
    recall = float((best[succeeded] >= threshold).mean()) if succeeded.any() else None
    flagged = float((best[~succeeded] >= threshold).mean()) if (~succeeded).any() else None
    ended_early = float((early[succeeded] >= threshold).mean()) if succeeded.any() else None
    return threshold, recall, flagged, ended_early


def roc_auc(score: np.ndarray, truth: np.ndarray) -> float | None:
    """Probability that a random positive scores above a random negative (ties count half)."""
    pos, neg = score[truth], score[~truth]
    if len(pos) == 0 or len(neg) == 0:
        return None
    order = np.sort(neg)
    below = np.searchsorted(order, pos, side="left")
    equal = np.searchsorted(order, pos, side="right") - below
    return float((below + 0.5 * equal).mean() / len(neg))


def train_kind(kind: str, frames: Frames, train: np.ndarray, val: np.ndarray, size: int, vocab: dict[str, int],
               args: Args) -> tuple[PrmNet, list[dict[str, typing.Any]]]:
    torch.manual_seed(args.seed)
    epochs = args.pairwise_epochs if kind == "pairwise" else args.epochs
    rng = np.random.default_rng([args.seed, KINDS.index(kind)])
    net = PrmNet(kind, size, args, len(vocab))
    net.encoder.set_pixel_stats(*pixel_stats(frames, train, args.pool, rng))
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    steps_per_epoch = -(-args.samples_per_epoch // args.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch, eta_min=args.lr / 50)
    train_pools = success_pools(frames, train, args.hard_negative_progress) if kind == "success" else None
    if train_pools is not None and len(train_pools[0]) == 0:
        raise TrainerError("no successful frame in the training episodes: record some successful episodes")

    def draw(source: np.random.Generator, episodes: np.ndarray, n: int, pools=None):
        if kind == "success":
            return success_batch(source, frames, pools, n, args)
        return (progress_batch if kind == "progress" else pairwise_batch)(source, frames, episodes, n, args)

    # The validation loss is measured on one fixed draw from the held-out episodes.
    val_pools = success_pools(frames, val, args.hard_negative_progress) if kind == "success" else None
    has_val = len(val) > 0 and (val_pools is None or len(val_pools[0]) > 0)
    fixed_val = draw(np.random.default_rng([args.seed, 99]), val, 2048, val_pools) if has_val else None
    history: list[dict[str, typing.Any]] = []
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        net.train()
        learning_rate = schedule.get_last_lr()[0]
        loss_sum, seen = 0.0, 0
        for _ in range(steps_per_epoch):
            images, tokens, labels = draw(rng, train, args.batch_size, train_pools)
            if args.augment:
                images = augment(images, rng)
            images, tokens, labels = to_torch(images, tokens, labels)
            loss = loss_fn(net, net(images, tokens), labels, args)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.item() * len(labels)
            seen += len(labels)
        train_loss = loss_sum / seen
        if not np.isfinite(train_loss):
            raise TrainerError(f"{kind}: training loss became {train_loss} in epoch {epoch}; try a lower --lr")
        val_loss = None
        if fixed_val is not None:
            net.eval()
            images, tokens, labels = to_torch(*fixed_val)
            with torch.no_grad():
                val_loss = float(loss_fn(net, net(images, tokens), labels, args))
        seconds = time.perf_counter() - started
        record = {
            "event": "progress", "model": kind, "epoch": epoch, "epochs": epochs,
            "charts/epoch": epoch, "charts/learning_rate": learning_rate,
            "losses/train": train_loss, "losses/val": val_loss,
            "perf/samples_per_s": seen / seconds, "perf/epoch_s": seconds,
        }
        history.append(record)
        common.emit(record)
    return net, history


def train(args: Args) -> None:
    started = time.perf_counter()
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    created = now.isoformat().replace("+00:00", "Z")
    version = args.version or now.strftime("prm-%Y%m%d%H%M%S")

    common.seed_everything(args.seed, args.threads)

    directories = [Path(d) for d in args.data.split(",") if d]
    if not directories:
        raise TrainerError("--data names no dataset directory")
    for directory in directories:
        if not directory.is_dir():
            raise TrainerError(f"dataset directory {directory} does not exist")
    frames, datasets = load_frames(directories, args.camera, args.progress_label)
    height, width = frames.images.shape[1:3]
    if height != width or height % args.pool:
        raise TrainerError(f"frames are {height}x{width}; the models need square frames divisible by --pool {args.pool}")
    size = int(height)
    vocab = build_vocab(frames.instructions)
    frames.tokens = np.stack([encode(text, vocab, args.max_length) for text in frames.instructions])

    train_episodes, val_episodes = [], []
    for d in range(len(datasets)):
        t, v = split_episodes(np.flatnonzero(frames.dataset == d), args.val_fraction, args.seed)
        train_episodes.append(t)
        val_episodes.append(v)
    train_ep, val_ep = np.concatenate(train_episodes), np.concatenate(val_episodes)
    common.emit({"event": "data", "frames": int(len(frames.images)), "episodes": int(len(frames.starts)),
                      "train_episodes": int(len(train_ep)), "val_episodes": int(len(val_ep)),
                      "positive_frames": int(frames.success.sum()), "vocab": len(vocab), "size": size})

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = args.name or datasets[0]["task"]
    results: dict[str, dict[str, typing.Any]] = {}
    written: list[Path] = []
    for kind in args.kinds.split(","):
        kind_started = time.perf_counter()
        net, history = train_kind(kind, frames, train_ep, val_ep, size, vocab, args)
        val_metrics = validate(net, frames, val_ep, args, np.random.default_rng([args.seed, 7]))
        model_bytes = export_onnx(net, size, args)
        onnx_check = verify_onnx(model_bytes, net, size, args)
        sha256 = hashlib.sha256(model_bytes).hexdigest()
        metadata = prm_metadata(kind=kind, name=f"{name}-{kind}", version=version, created=created, sha256=sha256,
                                size=size, args=args, training={
            "trainer": "trainer/prm.py", "torch": torch.__version__, "seed": args.seed, "camera": args.camera,
            "frame_hz": datasets[0]["hz"], "window_order": "oldest first", "window_padding": "repeat first frame",
            **({"value_head_bins": args.bins, "progress_step": args.progress_step} if kind == "progress" else {}),
            **({"delta_label": args.pairwise_label} if kind == "pairwise" else {}),
            "label": {"progress": "ground-truth progress clip(1 - d/d0, 0, 1) of the current frame",
                      "pairwise": "progress(frame_b) - progress(frame_a)" if args.pairwise_label == "diff" else
                                  "hop: (progress(b) - progress(a)) / (1 - progress(a)) when positive, / progress(a) when negative",
                      "success": "simulator success (block within 3.5 cm of the pad) of the frame"}[kind],
            "datasets": [d["path"] for d in datasets], "train_episodes": int(len(train_ep)),
            "val_episodes": int(len(val_ep)), "epochs": len(history), "samples_per_epoch": args.samples_per_epoch,
            "final_train_loss": history[-1]["losses/train"], "final_val_loss": history[-1]["losses/val"],
            "val": val_metrics,
        })
        write_atomic(out / f"{kind}.onnx", model_bytes)
        write_atomic(out / f"{kind}.json", (json.dumps(metadata, indent=2) + "\n").encode())
        written.append(out / f"{kind}.json")
        results[kind] = {
            "history": history, "val": val_metrics, "sha256": sha256, "bytes": len(model_bytes),
            "parameters": sum(p.numel() for p in net.parameters()), "seconds": time.perf_counter() - kind_started,
            "onnx_check": onnx_check,
        }
        common.emit({"event": "model", "model": kind, "file": str(out / f"{kind}.onnx"), "bytes": len(model_bytes),
                          "sha256": sha256, "onnx_check": onnx_check, "val": val_metrics,
                          "perf/model_s": results[kind]["seconds"]})

    write_atomic(out / "tokenizer.json", (json.dumps(tokenizer_json(vocab, args.max_length), indent=2) + "\n").encode())
    metadata_check = check_metadata_with_node(written, args.metadata_check)
    # New models invalidate any earlier evaluation: the card gets an empty section for `striatum prm eval --card`.
    split = {"train": int(len(train_ep)), "val": int(len(val_ep))}
    write_atomic(out / "README.md", model_card(args, datasets, split, results, vocab, size, created, version).encode())
    common.emit({
        "event": "done", "out": str(out), "version": version, "models": {k: r["bytes"] for k, r in results.items()},
        "metadata_check": metadata_check, "perf/total_s": time.perf_counter() - started,
    })


def main(argv: list[str] | None = None) -> int:
    return common.run_main("prm.py", train, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
