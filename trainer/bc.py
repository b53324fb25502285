"""Behaviour cloning: fit an MLP to recorded expert (observation, action) pairs and export it as ONNX.

Reads a dataset directory written by `striatum record` and writes OUT/policy.onnx, OUT/policy.json (metadata the
robot validates at load) and OUT/policy.card.md. Progress is one JSON line per epoch on stdout; errors in the
input are one readable line on stderr and exit status 1.

    /usr/bin/python3 trainer/bc.py --data data/push-expert --out data/push-bc
"""

import dataclasses
import datetime
import hashlib
import json
import sys
import time
import typing
from dataclasses import dataclass
from pathlib import Path

import common  # first: it sets OMP_WAIT_POLICY before torch loads
import mlp_policy
import numpy as np
import torch
import torch.nn as nn
from common import TrainerError, episode_bounds, load_array, split_episodes
from mlp_policy import Policy, chunk_targets, export_onnx, mean_loss, normalization_stats, policy_metadata, verify_onnx


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
    symmetry: str = "none"
    """augment the training episodes with the task's symmetries: none, or square-d4 (the push table's 8 rotations
    and reflections about --symmetry-center; needs --chunk 1)"""
    frame: str = "none"
    """how the policy sees the scene: none (the observation as recorded), or object-goal (in the frame of the block
    and its pad, so every demonstration also teaches its shifted and rotated copies; see mlp_policy.ObjectGoalFrame)"""
    goal_horizon: float = 0.0
    """m, with --frame object-goal: the policy sees a goal farther than this as this far (mlp_policy.ObjectGoalFrame),
    so a demonstration covers goals farther away than it started from; 0: the true distance"""
    symmetry_center: float = 0.4
    """centre of the square (m) for --symmetry square-d4: the table's middle"""
    velocity_noise: float = 0.0
    """m/s: add N(0, σ²) to the measured joint velocities of every batch (fresh each step), so the policy acts on
    positions instead of repeating its last command; 0: off (common.velocity_noise_scale)"""
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



FRAME_NOTE = """
The MLP sees the scene in the object-goal frame (`--frame object-goal`, `mlp_policy.ObjectGoalFrame`): the
pusher's offset from the block and its velocity along and across the block-to-pad line, and the block-to-pad
distance; it predicts the command along and across that line, which the graph turns back onto the table. A scene
shifted or rotated on the table gets the same command shifted or rotated."""

HORIZON_NOTE = """
A pad farther than {h} m from the block is seen at {h} m (`--goal-horizon {h}`): the policy pushes toward a far pad as
it pushes toward one {h} m away."""


def parse_args(argv: list[str] | None = None) -> Args:
    parser = common.dataclass_parser(Args, "bc.py", (__doc__ or "").splitlines()[0])
    args = Args(**vars(parser.parse_args(argv)))
    for name in ("epochs", "batch_size", "hidden", "layers", "chunk", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not args.lr > 0:
        parser.error("--lr must be positive")
    if not 0 <= args.val_fraction < 1:
        parser.error("--val-fraction must be in [0, 1)")
    if args.symmetry not in common.SYMMETRIES:
        parser.error(f"--symmetry must be one of {', '.join(common.SYMMETRIES)}")
    if args.frame not in mlp_policy.FRAMES:
        parser.error(f"--frame must be one of {', '.join(mlp_policy.FRAMES)}")
    if args.goal_horizon < 0 or (args.goal_horizon > 0 and args.frame != "object-goal"):
        parser.error(f"--goal-horizon must be >= 0 m and needs --frame object-goal (got {args.goal_horizon} with --frame {args.frame})")
    if not 0 <= args.velocity_noise < 1:
        parser.error("--velocity-noise must be in [0, 1) m/s")
    if args.symmetry != "none" and args.chunk != 1:
        parser.error("--symmetry needs --chunk 1")
    return args


# ---------------------------------------------------------------------------------------------------------------
# Dataset: load and check against meta.json. No pickles: np.load(allow_pickle=False).


@dataclass
class Dataset:
    observations: np.ndarray  # float32 [N, obs_dim]
    actions: np.ndarray  # float32 [N, act_dim], physical units
    episode_index: np.ndarray  # int64 [N], each episode one contiguous run of rows
    meta: dict[str, typing.Any]


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
# The model card: what the policy is, what it was trained on, how the losses went.


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
{metadata['action']['mode']} commands for joints {', '.join(metadata['action']['joints'])}.{FRAME_NOTE if args.frame == "object-goal" else ""}{HORIZON_NOTE.format(h=args.goal_horizon) if args.goal_horizon > 0 else ""}
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

    common.seed_everything(args.seed, args.threads)

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

    train_observations, train_targets = dataset.observations[train_rows], targets[train_rows]
    if args.symmetry == "square-d4":
        augmented_obs, augmented_act = common.augment_square_d4(
            train_observations, train_targets[:, 0, :], meta["observation_fields"], meta["action"]["mode"], args.symmetry_center
        )
        train_observations, train_targets = augmented_obs, augmented_act[:, None, :]

    # Statistics from the training rows only (augmented ones included), as float32: exactly what goes into policy.json.
    obs_mean, obs_std = normalization_stats(train_observations)
    act_mean, act_std = normalization_stats(train_targets[:, 0, :] if args.symmetry != "none" else dataset.actions[train_rows])

    def tensors(observations: np.ndarray, actions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.from_numpy(((observations - obs_mean) / obs_std).astype(np.float32)),
                torch.from_numpy(((actions - act_mean) / act_std).astype(np.float32)))

    obs_train, act_train = tensors(train_observations, train_targets)
    obs_val, act_val = tensors(dataset.observations[val_rows], targets[val_rows])

    if args.frame == "object-goal":
        policy = mlp_policy.frame_policy(meta["observation_fields"], obs_mean, obs_std, act_dim, args.chunk, args.hidden, args.layers,
                                         args.goal_horizon if args.goal_horizon > 0 else None)
        policy.set_frame_statistics(obs_train, act_mean, act_std)
    else:
        policy = Policy(obs_dim, act_dim, args.chunk, args.hidden, args.layers)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
    steps_per_epoch = -(-len(obs_train) // args.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=args.epochs * steps_per_epoch, eta_min=args.lr / 100
    )
    batch_order = torch.Generator().manual_seed(args.seed)
    noise_scale = torch.from_numpy(common.velocity_noise_scale(meta["observation_fields"], obs_std, args.velocity_noise))
    noise_draws = torch.Generator().manual_seed(args.seed + 1)

    history: list[dict[str, typing.Any]] = []
    for epoch in range(1, args.epochs + 1):
        epoch_started = time.perf_counter()
        policy.train()
        learning_rate = schedule.get_last_lr()[0]
        loss_sum = torch.zeros(())
        for batch in torch.randperm(len(obs_train), generator=batch_order).split(args.batch_size):
            inputs = obs_train[batch]
            if args.velocity_noise > 0:
                inputs = inputs + torch.randn(inputs.shape, generator=noise_draws) * noise_scale
            loss = nn.functional.mse_loss(policy(inputs), act_train[batch])
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
        common.emit(record)

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
        architecture=policy.architecture(),
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
    common.write_atomic(out / "policy.onnx", model_bytes)
    common.write_atomic(out / "policy.card.md", model_card(metadata, args, counts, history).encode())
    common.write_atomic(out / "policy.json", (json.dumps(metadata, indent=2) + "\n").encode())
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
    common.emit(done)


def main(argv: list[str] | None = None) -> int:
    return common.run_main("bc.py", train, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
