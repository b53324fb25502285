"""Behaviour cloning: fit an MLP to recorded expert (observation, action) pairs and export it as ONNX.

Reads a dataset directory written by `striatum record` and writes OUT/policy.onnx, OUT/policy.json (metadata the
robot validates at load) and OUT/policy.card.md. Progress is one JSON line per epoch on stdout; errors in the
input are one readable line on stderr and exit status 1.

    /usr/bin/python3 trainer/bc.py --data data/push-expert --out data/push-bc
"""

from __future__ import annotations

import argparse
import ast
import ctypes
import dataclasses
import datetime
import hashlib
import inspect
import io
import json
import os
import random
import sys
import textwrap
import time
import typing
from dataclasses import dataclass
from pathlib import Path

# With more busy threads than free cores (2 cores, shared), OpenMP's spinning barriers made an Adam step up to
# 10x slower; passive waiting costs little when idle. Must be set before torch loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn

STD_FLOOR = 1e-6
"""A feature whose standard deviation is below this is constant: its std is set to 1.0 (no scaling)."""
ONNX_OPSET = 17
METADATA_FORMAT = "striatum.policy/v1"


@dataclass
class Args:
    data: str
    """dataset directory written by `striatum record` (observations.npy, actions.npy, episode_index.npy, meta.json)"""
    out: str
    """output directory for policy.onnx, policy.json and policy.card.md, e.g. data/push-bc; must be new or empty"""
    epochs: int = 50
    """passes over the training episodes"""
    batch_size: int = 256
    """samples per Adam step"""
    lr: float = 1e-3
    """initial learning rate; cosine-annealed to lr/100 over the run"""
    hidden: int = 256
    """units in each hidden layer"""
    layers: int = 2
    """number of hidden layers (2: observation -> hidden -> hidden -> actions)"""
    chunk: int = 1
    """actions per prediction: t .. t+chunk-1, the episode's last action repeated past its end"""
    seed: int = 1
    """seed for python, numpy and torch, the episode split and the batch order"""
    val_fraction: float = 0.1
    """fraction of episodes (not steps) held out for the validation loss; 0 disables validation"""
    successful_only: bool = True
    """train only on episodes that meta.json marks successful"""
    threads: int = 2
    """CPU threads for torch and OpenBLAS"""
    name: str = ""
    """policy name in the metadata; empty means '<task>-bc'"""
    version: str = ""
    """policy version in the metadata; empty means 'bc-YYYYmmddHHMMSS' (UTC)"""
    force: bool = False
    """write into an --out directory that already holds files (its policy.onnx, .json and .card.md are replaced)"""


class TrainerError(Exception):
    """The input cannot be trained on, or training failed; the message is shown to the user as one line."""


# ---------------------------------------------------------------------------------------------------------------
# Arguments: argparse built from the dataclass, help text taken from the docstring under each field.


def field_docs(cls: type) -> dict[str, str]:
    """The string literal that follows each annotated field in a class body (how tyro reads docstrings)."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    docs: dict[str, str] = {}
    for node, following in zip(body, body[1:]):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = following.value.value
    return docs


def dataclass_parser(cls: type, prog: str, description: str) -> argparse.ArgumentParser:
    """An argparse parser with one --flag per dataclass field, its help taken from the field's docstring.
    Shared by every trainer script so their command lines behave alike."""
    docs = field_docs(cls)
    types = typing.get_type_hints(cls)
    parser = argparse.ArgumentParser(prog=prog, description=description)
    for field in dataclasses.fields(cls):
        flag = "--" + field.name.replace("_", "-")
        kind = types[field.name]
        help = docs.get(field.name, "")
        if field.default is dataclasses.MISSING:
            parser.add_argument(flag, type=kind, required=True, help=help)
            continue
        if field.default != "":
            help += f" (default: {field.default})"
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default, help=help)
        else:
            parser.add_argument(flag, type=kind, default=field.default, help=help)
    return parser


def parse_args(argv: list[str] | None = None) -> Args:
    parser = dataclass_parser(Args, "bc.py", (__doc__ or "").splitlines()[0])
    args = Args(**vars(parser.parse_args(argv)))
    for name in ("epochs", "batch_size", "hidden", "layers", "chunk", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not args.lr > 0:
        parser.error("--lr must be positive")
    if not 0 <= args.val_fraction < 1:
        parser.error("--val-fraction must be in [0, 1)")
    return args


# ---------------------------------------------------------------------------------------------------------------
# Dataset: load and check against meta.json. No pickles: np.load(allow_pickle=False).


@dataclass
class Dataset:
    observations: np.ndarray  # float32 [N, obs_dim]
    actions: np.ndarray  # float32 [N, act_dim], physical units
    episode_index: np.ndarray  # int64 [N], each episode one contiguous run of rows
    meta: dict[str, typing.Any]


def load_array(path: Path, ndim: int) -> np.ndarray:
    if not path.is_file():
        raise TrainerError(f"missing {path}")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise TrainerError(f"cannot read {path}: {error}") from None
    if array.ndim != ndim:
        raise TrainerError(f"{path} has shape {list(array.shape)}, expected {ndim} dimension(s)")
    return array


def load_dataset(directory: Path) -> Dataset:
    if not directory.is_dir():
        raise TrainerError(f"dataset directory {directory} does not exist")
    meta_path = directory / "meta.json"
    if not meta_path.is_file():
        raise TrainerError(f"missing {meta_path}")
    try:
        meta = json.loads(meta_path.read_text())
    except (ValueError, OSError) as error:
        raise TrainerError(f"cannot read {meta_path}: {error}") from None
    for key in ("task", "observation_fields", "action", "episodes"):
        if key not in meta:
            raise TrainerError(f"{meta_path} has no '{key}'")
    fields = meta["observation_fields"]
    if not isinstance(fields, list) or not all(isinstance(f, dict) and isinstance(f.get("size"), int) for f in fields):
        raise TrainerError(f"{meta_path}: observation_fields must be a list of {{name, size}}")
    joints = meta["action"].get("joints") if isinstance(meta["action"], dict) else None
    if not isinstance(joints, list) or not joints or "mode" not in meta["action"]:
        raise TrainerError(f"{meta_path}: action must have a mode and a non-empty joints list")
    episodes = meta["episodes"]
    if not isinstance(episodes, list) or not all(
        isinstance(e, dict) and isinstance(e.get("index"), int) and isinstance(e.get("steps"), int) for e in episodes
    ):
        raise TrainerError(f"{meta_path}: episodes must be a list of {{index, steps, success}}")

    observations = load_array(directory / "observations.npy", 2)
    actions = load_array(directory / "actions.npy", 2)
    episode_index = load_array(directory / "episode_index.npy", 1)
    obs_dim = sum(f["size"] for f in fields)
    if observations.shape[1] != obs_dim:
        raise TrainerError(
            f"observations.npy has {observations.shape[1]} columns but meta.json observation_fields add up to {obs_dim}"
        )
    if actions.shape[1] != len(joints):
        raise TrainerError(f"actions.npy has {actions.shape[1]} columns but meta.json names {len(joints)} joints")
    if not (len(observations) == len(actions) == len(episode_index)):
        raise TrainerError(
            f"row counts differ: observations.npy {len(observations)}, actions.npy {len(actions)}, "
            f"episode_index.npy {len(episode_index)}"
        )
    if len(observations) == 0:
        raise TrainerError(f"{directory} holds no steps")
    if not np.issubdtype(episode_index.dtype, np.integer):
        raise TrainerError(f"episode_index.npy has dtype {episode_index.dtype}, expected an integer type")
    for file, array in (("observations.npy", observations), ("actions.npy", actions)):
        if not np.issubdtype(array.dtype, np.floating):
            raise TrainerError(f"{file} has dtype {array.dtype}, expected float32")
        bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
        if len(bad):
            raise TrainerError(f"{file} has NaN or infinite values in {len(bad)} rows, first at row {bad[0]}")

    episode_index = episode_index.astype(np.int64)
    starts, ends = episode_bounds(episode_index)
    steps_in_arrays = {int(episode_index[s]): int(e - s) for s, e in zip(starts, ends)}
    steps_in_meta = {int(e["index"]): int(e["steps"]) for e in meta["episodes"]}
    for index, steps in steps_in_arrays.items():
        if index not in steps_in_meta:
            raise TrainerError(f"episode {index} is in episode_index.npy but not in meta.json episodes")
        if steps_in_meta[index] != steps:
            raise TrainerError(
                f"meta.json says episode {index} has {steps_in_meta[index]} steps "
                f"but episode_index.npy has {steps} rows for it"
            )
    missing = sorted(set(steps_in_meta) - set(steps_in_arrays))
    if missing:
        raise TrainerError(
            f"meta.json lists episode {missing[0]} but episode_index.npy has no rows for it ({len(missing)} such)"
        )
    return Dataset(observations.astype(np.float32), actions.astype(np.float32), episode_index, meta)


# ---------------------------------------------------------------------------------------------------------------
# The math: episode runs, chunked targets, the episode-level split, normalization statistics.


def episode_bounds(episode_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start (inclusive) and end (exclusive) row of each contiguous run of one episode index, in row order."""
    change = np.flatnonzero(episode_index[1:] != episode_index[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(episode_index)]))
    if len(np.unique(episode_index[starts])) != len(starts):
        values, counts = np.unique(episode_index[starts], return_counts=True)
        raise TrainerError(f"episode {values[counts > 1][0]} is split over non-adjacent rows in episode_index.npy")
    return starts, ends


def chunk_targets(actions: np.ndarray, episode_index: np.ndarray, chunk: int) -> np.ndarray:
    """Targets [N, chunk, act_dim]: row t gets actions t .. t+chunk-1 of its own episode, the last one repeated
    past the episode's end, so no target ever reads into the next episode."""
    starts, ends = episode_bounds(episode_index)
    last_row = np.repeat(ends - 1, ends - starts)  # last row of each row's episode
    rows = np.arange(len(actions))[:, None] + np.arange(chunk)[None, :]
    return actions[np.minimum(rows, last_row[:, None])]


def split_episodes(episodes: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle episode indices and hold out round(val_fraction * n) of them (at least one, never all)."""
    shuffled = np.random.default_rng(seed).permutation(np.asarray(episodes))
    n_val = 0
    if val_fraction > 0 and len(shuffled) >= 2:
        n_val = min(max(1, round(val_fraction * len(shuffled))), len(shuffled) - 1)
    return np.sort(shuffled[n_val:]), np.sort(shuffled[:n_val])


def normalization_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and std as float32 (the runtime computes in float32 too). A column whose std is below
    STD_FLOOR is constant and gets std 1.0, so normalization only centres it instead of blowing it up."""
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=0)
    std = x64.std(axis=0)
    std = np.where(std < STD_FLOOR, 1.0, std)
    return mean.astype(np.float32), std.astype(np.float32)


def set_blas_threads(threads: int) -> None:
    """Debian's torch calls BLAS through the generic interface, so torch.set_num_threads never reaches
    OpenBLAS, which starts one thread per core. Best effort: without a loaded OpenBLAS nothing changes."""
    try:
        with open("/proc/self/maps") as maps:
            library = next((line.split()[-1] for line in maps if "libopenblas" in line), None)
        if library is not None:
            ctypes.CDLL(library).openblas_set_num_threads(threads)
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------------------------------------------------------
# The policy: an MLP from a normalized observation to a chunk of normalized actions.


class Policy(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, chunk: int, hidden: int, layers: int):
        super().__init__()
        self.chunk, self.act_dim = chunk, act_dim
        widths = [obs_dim] + [hidden] * layers
        body: list[nn.Module] = []
        for width_in, width_out in zip(widths, widths[1:]):
            body += [nn.Linear(width_in, width_out), nn.ReLU()]
        self.net = nn.Sequential(*body, nn.Linear(widths[-1], chunk * act_dim))

    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        # A constant target shape keeps the exported graph to one Reshape with a fixed [-1, chunk, act_dim].
        return self.net(observation).reshape(-1, self.chunk, self.act_dim)


def mean_loss(policy: Policy, observations: torch.Tensor, targets: torch.Tensor, batch: int = 8192) -> float:
    policy.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(observations), batch):
            prediction = policy(observations[start : start + batch])
            total += nn.functional.mse_loss(prediction, targets[start : start + batch], reduction="sum").item()
    return total / targets.numel()


# ---------------------------------------------------------------------------------------------------------------
# Export and its check. onnxruntime is not available to Python here, so the numbers are compared with
# onnx.reference when this onnx has it, else with a small numpy evaluator for the few ops this MLP exports.


def export_onnx(policy: Policy, obs_dim: int) -> bytes:
    policy.eval()
    buffer = io.BytesIO()
    options: dict[str, typing.Any] = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        options["dynamo"] = False  # the dynamo exporter needs onnxscript, which Debian does not package
    torch.onnx.export(
        policy,
        (torch.zeros(1, obs_dim),),
        buffer,
        input_names=["observation"],
        output_names=["action"],
        dynamic_axes={"observation": {0: "batch"}, "action": {0: "batch"}},
        opset_version=ONNX_OPSET,
        do_constant_folding=True,
        **options,
    )
    # The exporter names every output dimension after the Reshape as dynamic; only the batch is. Declaring the
    # fixed ones lets the runtime check the shape at load, and check_model(full_check=True) verifies the claim.
    model = onnx.load_model_from_string(buffer.getvalue())
    for dim, size in zip(model.graph.output[0].type.tensor_type.shape.dim[1:], (policy.chunk, policy.act_dim)):
        dim.dim_value = size
    return model.SerializeToString()


def run_numpy(model: onnx.ModelProto, inputs: dict[str, np.ndarray]) -> list[np.ndarray] | None:
    """Evaluate a graph made only of Gemm/MatMul/Add/Relu/Reshape/Constant/Identity; None on any other op."""
    values = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    values.update(inputs)
    for node in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        x = [values[name] for name in node.input if name]
        if node.op_type == "Gemm":
            a = x[0].T if attrs.get("transA", 0) else x[0]
            b = x[1].T if attrs.get("transB", 0) else x[1]
            y = attrs.get("alpha", 1.0) * (a @ b)
            if len(x) > 2:
                y = y + attrs.get("beta", 1.0) * x[2]
        elif node.op_type == "MatMul":
            y = x[0] @ x[1]
        elif node.op_type == "Add":
            y = x[0] + x[1]
        elif node.op_type == "Relu":
            y = np.maximum(x[0], 0)
        elif node.op_type == "Reshape":
            shape = [d if d != 0 or attrs.get("allowzero", 0) else x[0].shape[i] for i, d in enumerate(x[1])]
            y = x[0].reshape(shape)
        elif node.op_type == "Constant":
            y = onnx.numpy_helper.to_array(attrs["value"])
        elif node.op_type == "Identity":
            y = x[0]
        else:
            return None
        values[node.output[0]] = y
    return [values[output.name] for output in model.graph.output]


def graph_shape(value: onnx.ValueInfoProto) -> list[int]:
    return [d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim]


def verify_onnx(model_bytes: bytes, policy: Policy, obs_dim: int, chunk: int, act_dim: int) -> str:
    """Check the exported graph and compare its outputs with torch's; returns which numeric check ran."""
    model = onnx.load_model_from_string(model_bytes)
    onnx.checker.check_model(model, full_check=True)
    inputs, outputs = list(model.graph.input), list(model.graph.output)
    io_spec = [(v.name, graph_shape(v)) for v in inputs + outputs]
    expected = [("observation", [-1, obs_dim]), ("action", [-1, chunk, act_dim])]
    if io_spec != expected:
        raise RuntimeError(f"exported graph has inputs/outputs {io_spec}, expected {expected}")

    observation = np.random.default_rng(0).standard_normal((5, obs_dim)).astype(np.float32)
    with torch.no_grad():
        want = policy(torch.from_numpy(observation)).numpy()
    try:
        from onnx.reference import ReferenceEvaluator  # onnx >= 1.13
    except ImportError:
        got = run_numpy(model, {"observation": observation})
        method = "numpy"
    else:
        got = ReferenceEvaluator(model).run(None, {"observation": observation})
        method = "onnx.reference"
    if got is None:
        return "skipped (onnx.reference is missing and the graph has ops the numpy evaluator does not know)"
    if got[0].shape != want.shape or not np.allclose(got[0], want, rtol=1e-4, atol=1e-5):
        raise RuntimeError(f"ONNX output differs from torch (max abs difference {np.abs(got[0] - want).max()})")
    return method


# ---------------------------------------------------------------------------------------------------------------
# Output files. Each is written next to its final name and renamed, policy.json last: a reader never sees a
# half-written file, and a fresh directory has a policy.json only once its model is complete.


def write_atomic(path: Path, content: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)


def policy_metadata(
    *, name: str, version: str, task: str, created: str, sha256: str, obs_dim: int, act_dim: int, chunk: int,
    meta: dict[str, typing.Any], obs_mean: np.ndarray, obs_std: np.ndarray, act_mean: np.ndarray,
    act_std: np.ndarray, training: dict[str, typing.Any],
) -> dict[str, typing.Any]:
    return {
        "format": METADATA_FORMAT,
        "name": name,
        "version": version,
        "task": task,
        "created": created,
        "model": "policy.onnx",
        "sha256": sha256,
        "inputs": [{"name": "observation", "shape": [-1, obs_dim], "dtype": "float32"}],
        "outputs": [{"name": "action", "shape": [-1, chunk, act_dim], "dtype": "float32"}],
        "observation": {"fields": meta["observation_fields"], "mean": obs_mean.tolist(), "std": obs_std.tolist()},
        "action": {
            "mode": meta["action"]["mode"],
            "joints": meta["action"]["joints"],
            "chunk": chunk,
            "mean": act_mean.tolist(),
            "std": act_std.tolist(),
        },
        "training": training,
    }


def model_card(
    metadata: dict[str, typing.Any], args: Args, counts: dict[str, int], history: list[dict[str, typing.Any]]
) -> str:
    def loss(value: float | None) -> str:
        return "-" if value is None else f"{value:.5f}"

    training = metadata["training"]
    only_successful = " (successful only)" if args.successful_only else ""
    fields = ", ".join(f"{f['name']} ({f['size']})" for f in metadata["observation"]["fields"])
    arg_rows = "\n".join(
        f"| `--{name.replace('_', '-')}` | {'(auto)' if value == '' else f'`{value}`'} |"
        for name, value in dataclasses.asdict(args).items()
    )
    every = max(1, len(history) // 10)  # about ten rows, always the first and the last epoch
    loss_rows = "\n".join(
        f"| {h['epoch']} | {loss(h['losses/train'])} | {loss(h['losses/val'])} |"
        for h in history
        if h["epoch"] % every == 0 or h["epoch"] in (1, len(history))
    )
    return f"""# {metadata['name']} {metadata['version']}

## What it is

A behaviour-cloning policy for the `{metadata['task']}` task: an MLP ({args.layers} hidden layers of {args.hidden},
ReLU) from a normalized observation to a chunk of {metadata['action']['chunk']} normalized
{metadata['action']['mode']} commands for joints {', '.join(metadata['action']['joints'])}.
Created {metadata['created']} by `trainer/bc.py` (torch {training['torch']}).
`policy.onnx` sha256: `{metadata['sha256']}`.

- Input `observation` [batch, {metadata['inputs'][0]['shape'][1]}]: {fields}, normalized by the runtime with
  the mean/std in `policy.json`.
- Output `action` [batch, {metadata['action']['chunk']}, {len(metadata['action']['joints'])}]: normalized; the
  runtime denormalizes with the action mean/std in `policy.json`.

## Data

`{args.data}`: {counts['episodes_total']} episodes, {counts['steps_total']} steps recorded;
{counts['episodes_used']} episodes ({counts['steps_used']} steps) used{only_successful},
split by episode into {counts['episodes_train']} for training and {counts['episodes_val']} for validation.

## Training

Mean squared error on normalized actions, Adam with a cosine learning-rate schedule.

| argument | value |
|---|---|
{arg_rows}

## Losses

Final: train {loss(training['final_train_loss'])}, validation {loss(training['final_val_loss'])}
(MSE in normalized action units; always predicting the mean action scores about 1.0).

| epoch | train | validation |
|---|---|---|
{loss_rows}

## Evaluation

<!-- EVALUATION: to be filled in from `striatum eval` (episodes, seeds, success rate). -->
_Not yet evaluated._

## Limitations

Behaviour cloning copies the expert only where the data goes: states the expert never visited are guesses, and
small errors can compound over an episode. Check the evaluation above before running it on hardware.
"""


# ---------------------------------------------------------------------------------------------------------------


def check_out_dir(out: Path, force: bool) -> None:
    """Never write over earlier results silently (the shipped models/push, say): an --out directory that already
    holds files is refused unless --force. Checked before training, so a refusal costs nothing."""
    if out.exists() and not out.is_dir():
        raise TrainerError(f"--out {out} is a file, not a directory")
    held = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if held and not force:
        shown = ", ".join(held[:3]) + (", ..." if len(held) > 3 else "")
        raise TrainerError(
            f"--out {out} already holds {len(held)} file(s) ({shown}); "
            "choose a new directory, e.g. data/push-bc, or pass --force to replace the policy there"
        )


def train(args: Args) -> None:
    started = time.perf_counter()
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)

    # Seeding: one place, everything deterministic.
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(args.threads)
    set_blas_threads(args.threads)

    dataset = load_dataset(Path(args.data))
    check_out_dir(Path(args.out), args.force)
    meta = dataset.meta
    obs_dim, act_dim = dataset.observations.shape[1], dataset.actions.shape[1]
    targets = chunk_targets(dataset.actions, dataset.episode_index, args.chunk)

    recorded = np.unique(dataset.episode_index)
    successful = {int(e["index"]) for e in meta["episodes"] if e.get("success") is True}
    used = np.array([e for e in recorded if e in successful]) if args.successful_only else recorded
    if len(used) == 0:
        raise TrainerError(
            f"none of the {len(recorded)} episodes in {args.data} is marked successful; "
            "pass --no-successful-only to use them all"
        )
    train_episodes, val_episodes = split_episodes(used, args.val_fraction, args.seed)
    train_rows = np.isin(dataset.episode_index, train_episodes)
    val_rows = np.isin(dataset.episode_index, val_episodes)

    # Statistics from the training episodes only, as float32: exactly what goes into policy.json.
    obs_mean, obs_std = normalization_stats(dataset.observations[train_rows])
    act_mean, act_std = normalization_stats(dataset.actions[train_rows])

    def tensors(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        observations = (dataset.observations[rows] - obs_mean) / obs_std
        actions = (targets[rows] - act_mean) / act_std
        return torch.from_numpy(observations.astype(np.float32)), torch.from_numpy(actions.astype(np.float32))

    obs_train, act_train = tensors(train_rows)
    obs_val, act_val = tensors(val_rows)

    policy = Policy(obs_dim, act_dim, args.chunk, args.hidden, args.layers)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
    steps_per_epoch = -(-len(obs_train) // args.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=args.epochs * steps_per_epoch, eta_min=args.lr / 100
    )
    batch_order = torch.Generator().manual_seed(args.seed)

    history: list[dict[str, typing.Any]] = []
    for epoch in range(1, args.epochs + 1):
        epoch_started = time.perf_counter()
        policy.train()
        learning_rate = schedule.get_last_lr()[0]
        loss_sum = torch.zeros(())
        for batch in torch.randperm(len(obs_train), generator=batch_order).split(args.batch_size):
            loss = nn.functional.mse_loss(policy(obs_train[batch]), act_train[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.detach() * len(batch)
        train_seconds = time.perf_counter() - epoch_started
        train_loss = loss_sum.item() / len(obs_train)
        if not np.isfinite(train_loss):
            raise TrainerError(f"training loss became {train_loss} in epoch {epoch}; try a lower --lr")
        val_loss = mean_loss(policy, obs_val, act_val) if len(obs_val) else None
        record = {
            "event": "progress",
            "epoch": epoch,
            "epochs": args.epochs,
            "charts/epoch": epoch,
            "charts/learning_rate": learning_rate,
            "losses/train": train_loss,
            "losses/val": val_loss,
            "perf/samples_per_s": len(obs_train) / train_seconds,
            "perf/epoch_s": time.perf_counter() - epoch_started,
        }
        history.append(record)
        print(json.dumps(record), flush=True)

    # Export, check, write. The final training loss is re-measured in eval mode over the whole training set.
    final_train_loss = mean_loss(policy, obs_train, act_train)
    final_val_loss = history[-1]["losses/val"]
    model_bytes = export_onnx(policy, obs_dim)
    onnx_check = verify_onnx(model_bytes, policy, obs_dim, args.chunk, act_dim)
    sha256 = hashlib.sha256(model_bytes).hexdigest()
    metadata = policy_metadata(
        name=args.name or f"{meta['task']}-bc",
        version=args.version or now.strftime("bc-%Y%m%d%H%M%S"),
        task=meta["task"],
        created=now.isoformat().replace("+00:00", "Z"),
        sha256=sha256,
        obs_dim=obs_dim,
        act_dim=act_dim,
        chunk=args.chunk,
        meta=meta,
        obs_mean=obs_mean,
        obs_std=obs_std,
        act_mean=act_mean,
        act_std=act_std,
        training={
            "algorithm": "bc",
            "dataset_episodes": len(used),
            "dataset_steps": int(train_rows.sum() + val_rows.sum()),
            "epochs": args.epochs,
            "final_train_loss": final_train_loss,
            "final_val_loss": final_val_loss,
            "seed": args.seed,
            "torch": torch.__version__,
        },
    )
    counts = {
        "episodes_total": len(recorded),
        "steps_total": len(dataset.episode_index),
        "episodes_used": len(used),
        "steps_used": metadata["training"]["dataset_steps"],
        "episodes_train": len(train_episodes),
        "episodes_val": len(val_episodes),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "policy.onnx", model_bytes)
    write_atomic(out / "policy.card.md", model_card(metadata, args, counts, history).encode())
    write_atomic(out / "policy.json", (json.dumps(metadata, indent=2) + "\n").encode())
    done = {
        "event": "done",
        "epochs": args.epochs,
        "losses/train": final_train_loss,
        "losses/val": final_val_loss,
        "model": str(out / "policy.onnx"),
        "metadata": str(out / "policy.json"),
        "sha256": sha256,
        "version": metadata["version"],
        "onnx_check": onnx_check,
        "perf/total_s": time.perf_counter() - started,
    }
    print(json.dumps(done), flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        train(args)
    except TrainerError as error:
        print(f"bc.py: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
