"""Advantage-weighted regression (Peng et al. 2019): one improvement round of the current policy on its own rollouts.

Reads a training snapshot written by the updater (src/updater/training.ts) and the current policy (policy.onnx +
policy.json from trainer/bc.py or an earlier round), starts the actor from that policy's weights, fits V(s), and
does behaviour cloning weighted by exp(A/β). Writes OUT/policy.onnx, OUT/policy.json and OUT/policy.card.md in
bc.py's format, with `version`, `parent_version` and the round's metrics. Progress is one JSON line per epoch on
stdout; errors are one readable line on stderr and exit status 1 (2 for a manifest that breaks its schema).

    /usr/bin/python3 trainer/awr.py --data SNAPSHOT --base models/push --out models/push-awr-1

Snapshot (all rows of all episodes, each episode one contiguous run, in step order):
    observations.npy f32[N, obs]   actions.npy f32[N, act] (the commands the robot wrote)
    rewards.npy f32[N] (relabeled by the updater)   terminals.npy i32[N] (1: true terminal after this step)
    truncations.npy i32[N] (1: time limit after this step)   episode_index.npy i32[N]
    manifest.json {format, task, gamma, observation_fields, action {mode, joints}, episodes [{index, steps, ...}]},
    checked against snapshot-manifest.schema.json (declared once in src/contracts/snapshot-manifest.ts) before
    anything else: a manifest that breaks it is refused naming the field, with exit status 2.

Choices (documented here once):
- Returns: discounted Monte-Carlo returns G_t = r_t + γ·G_{t+1} within an episode. At a true terminal the tail is
  0; at a time-limit truncation (or an episode that just stops) the tail is γ·V(s_T), with the last stored
  observation standing in for the unseen next one. V is refit each epoch on targets recomputed with the current V
  (a fixed-point iteration), so the bootstrap improves as V does.
- Advantages: A = G − V(s), then divided by their standard deviation over the snapshot, so β is in units of
  advantage std and one β works whatever the reward scale (relabeling changes it). Weights w = min(exp(A/β), w_max);
  w_max bounds how far a few lucky steps can pull the policy (the AWR paper uses 20).
- Loss: Σ w·‖π(s) − a‖² / Σ w on normalized actions, with the parent's observation and action statistics kept
  (the weights were learned in those units, and the robot denormalizes with what policy.json says).
"""

from __future__ import annotations

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
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
from common import TrainerError, episode_bounds, load_array
from mlp_policy import STD_FLOOR, Ensemble, Policy
from onnx_numpy import run_numpy

# The manifest's schema is declared in src/contracts/snapshot-manifest.ts and written here by `npm run docs`.
SNAPSHOT_SCHEMA = common.load_schema(Path(__file__).resolve().parent / "snapshot-manifest.schema.json")
SNAPSHOT_FORMAT: str = SNAPSHOT_SCHEMA["properties"]["format"]["const"]


@dataclass
class Args:
    data: str
    """training snapshot directory written by the updater (observations.npy, actions.npy, rewards.npy, terminals.npy,
    truncations.npy, episode_index.npy, manifest.json)"""
    base: str
    """directory of the current policy (policy.onnx, policy.json): the actor starts from its weights"""
    out: str
    """output directory for policy.onnx, policy.json and policy.card.md"""
    epochs: int = 20
    """passes over the snapshot; each refits V once and then the actor once"""
    batch_size: int = 256
    """samples per Adam step"""
    lr: float = 1e-4
    """actor learning rate (small: the actor starts from a trained policy)"""
    value_lr: float = 1e-3
    """value-function learning rate"""
    value_hidden: int = 256
    """units in each of the value function's two hidden layers"""
    gamma: float = -1.0
    """discount per control step; negative means the snapshot manifest's gamma"""
    beta: float = 1.0
    """temperature: w = exp(A/β), A in units of its standard deviation over the snapshot"""
    w_max: float = 20.0
    """largest weight of one sample"""
    seed: int = 1
    """seed for python, numpy and torch and the batch order"""
    threads: int = 2
    """CPU threads for torch and OpenBLAS"""
    name: str = ""
    """policy name in the metadata; empty means the parent's name"""
    version: str = ""
    """policy version in the metadata; empty means 'awr-YYYYmmddHHMMSS' (UTC)"""


def parse_args(argv: list[str] | None = None) -> Args:
    parsed = common.dataclass_parser(Args, "awr.py", (__doc__ or "").splitlines()[0]).parse_args(argv)
    args = Args(**vars(parsed))
    for name in ("epochs", "batch_size", "value_hidden", "threads"):
        if getattr(args, name) < 1:
            raise SystemExit(f"awr.py: error: --{name.replace('_', '-')} must be at least 1")
    for name in ("lr", "value_lr", "beta"):
        if not getattr(args, name) > 0:
            raise SystemExit(f"awr.py: error: --{name.replace('_', '-')} must be positive")
    if not args.w_max >= 1:
        raise SystemExit("awr.py: error: --w-max must be at least 1")
    if args.gamma >= 0 and not 0 < args.gamma <= 1:
        raise SystemExit("awr.py: error: --gamma must be in (0, 1], or negative for the manifest's")
    return args


# ---------------------------------------------------------------------------------------------------------------
# The math: returns with terminal/truncation handling, advantages, weights. No I/O, tested directly.


def discounted_returns(
    rewards: np.ndarray, terminals: np.ndarray, episode_index: np.ndarray, tail_values: np.ndarray, gamma: float
) -> np.ndarray:
    """G_t = r_t + γ·G_{t+1} within each episode (float64). After an episode's last step the tail is 0 when that
    step is a true terminal, else γ·tail_values[last] (V of the last observation: time limit or cut-off)."""
    starts, ends = episode_bounds(episode_index)
    returns = np.zeros(len(rewards), dtype=np.float64)
    for start, end in zip(starts, ends):
        last = end - 1
        following = 0.0 if terminals[last] else float(tail_values[last])
        for t in range(last, start - 1, -1):
            following = float(rewards[t]) + gamma * following
            returns[t] = following
    return returns


def normalized_advantages(returns: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A = G − V(s), divided by its standard deviation (1 when that is ~0)."""
    advantages = returns - values
    std = advantages.std()
    return advantages / (std if std > STD_FLOOR else 1.0)


def awr_weights(advantages: np.ndarray, beta: float, w_max: float) -> np.ndarray:
    """w = min(exp(A/β), w_max), computed without overflow."""
    return np.exp(np.minimum(advantages / beta, np.log(w_max)))


# ---------------------------------------------------------------------------------------------------------------
# Loading: the snapshot, and the parent policy's weights out of its ONNX graph.


@dataclass
class Snapshot:
    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminals: np.ndarray
    truncations: np.ndarray
    episode_index: np.ndarray
    manifest: dict[str, typing.Any]


def load_snapshot(directory: Path) -> Snapshot:
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise TrainerError(f"missing {manifest_path}")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (ValueError, OSError) as error:
        raise TrainerError(f"cannot read {manifest_path}: {error}") from None
    common.check_against_schema(manifest, SNAPSHOT_SCHEMA, manifest_path)
    observations = load_array(directory / "observations.npy", 2)
    actions = load_array(directory / "actions.npy", 2)
    columns = {
        name: load_array(directory / f"{name}.npy", 1)
        for name in ("rewards", "terminals", "truncations", "episode_index")
    }
    n = len(observations)
    lengths = {"observations": n, "actions": len(actions), **{k: len(v) for k, v in columns.items()}}
    if len(set(lengths.values())) != 1:
        raise TrainerError(f"row counts differ: {lengths}")
    if n == 0:
        raise TrainerError(f"{directory} holds no steps")
    obs_dim = sum(f["size"] for f in manifest["observation_fields"])
    if observations.shape[1] != obs_dim:
        raise TrainerError(f"observations.npy has {observations.shape[1]} columns, manifest fields add up to {obs_dim}")
    if actions.shape[1] != len(manifest["action"]["joints"]):
        raise TrainerError(f"actions.npy has {actions.shape[1]} columns, manifest names {len(manifest['action']['joints'])} joints")
    for name, array in (("observations", observations), ("actions", actions), ("rewards", columns["rewards"])):
        bad = np.flatnonzero(~np.isfinite(array.reshape(n, -1)).all(axis=1))
        if len(bad):
            raise TrainerError(f"{name}.npy has NaN or infinite values in {len(bad)} rows, first at row {bad[0]}")
    episode_index = columns["episode_index"].astype(np.int64)
    starts, ends = episode_bounds(episode_index)  # refuses an episode split over non-adjacent rows
    steps_in_arrays = {int(episode_index[s]): int(e - s) for s, e in zip(starts, ends)}
    steps_in_manifest = {int(e["index"]): int(e["steps"]) for e in manifest["episodes"]}
    if steps_in_arrays != steps_in_manifest:
        differ = sorted(set(steps_in_arrays.items()) ^ set(steps_in_manifest.items()))[0][0]
        raise TrainerError(
            f"episode {differ}: manifest.json says {steps_in_manifest.get(differ, 'nothing')} steps, "
            f"episode_index.npy has {steps_in_arrays.get(differ, 0)} rows"
        )
    return Snapshot(
        observations.astype(np.float32), actions.astype(np.float32), columns["rewards"].astype(np.float64),
        columns["terminals"].astype(bool), columns["truncations"].astype(bool), episode_index, manifest,
    )


FRAME_OPS = frozenset({"Mul", "Sub", "Div", "Sqrt", "Neg", "Slice", "Concat", "ReduceSum", "Unsqueeze", "Min"})
"""Ops the object-goal frame adds around the MLP in an exported graph (Min: the goal horizon)."""


def load_policy_weights(model_path: Path, metadata: dict[str, typing.Any]) -> Policy | Ensemble:
    """A Policy holding the weights of a bc.py-exported graph, rebuilt as policy.json's training.architecture says
    (a plain MLP when it says nothing; an Ensemble of such MLPs when it names `ensemble` members). Refuses any other
    architecture: ops other than the MLP's (and the frame's, and the ensemble's mean), layers that do not chain,
    unequal hidden widths, and a rebuilt module whose outputs differ from the graph's."""
    try:
        model = onnx.load(str(model_path))
    except Exception as error:  # onnx raises OSError, DecodeError or its own errors: all mean unreadable
        raise TrainerError(f"cannot read {model_path}: {error}") from None
    architecture = (metadata.get("training") or {}).get("architecture") or {"frame": "none"}
    framed = architecture.get("frame") == "object-goal"
    if architecture.get("frame") not in mlp_policy.FRAMES:
        raise TrainerError(f"{model_path}: policy.json names frame {architecture.get('frame')!r}, not one of {', '.join(mlp_policy.FRAMES)}")
    members = architecture.get("ensemble", 1)
    if not isinstance(members, int) or isinstance(members, bool) or members < 1:
        raise TrainerError(f"{model_path}: policy.json names ensemble {members!r}, not a member count")
    init = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    allowed = {"Gemm", "MatMul", "Add", "Relu", "Reshape", "Constant", "Identity"} | (FRAME_OPS if framed else set()) | ({"Mul"} if members > 1 else set())
    layers: list[tuple[np.ndarray, np.ndarray]] = []  # (weight [out, in], bias [out]) in graph order
    relus = 0
    pending: np.ndarray | None = None  # a MatMul's weight waiting for its Add
    for node in model.graph.node:
        if node.op_type not in allowed:
            raise TrainerError(f"{model_path}: op {node.op_type} is not part of bc.py's MLP; cannot continue from it")
        if node.op_type == "Gemm":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
                raise TrainerError(f"{model_path}: Gemm {node.name} has transA/alpha/beta this loader does not handle")
            weight = init[node.input[1]]
            weight = weight if attrs.get("transB", 0) else weight.T
            bias = init[node.input[2]] if len(node.input) > 2 else np.zeros(weight.shape[0], np.float32)
            layers.append((weight, bias))
        elif node.op_type == "MatMul" and node.input[1] in init:
            pending = init[node.input[1]].T
        elif node.op_type == "Add" and pending is not None:
            bias = next(init[name] for name in node.input if name in init)
            layers.append((pending, bias))
            pending = None
        elif node.op_type == "Relu":
            relus += 1
    if not layers or len(layers) % members or relus != len(layers) - members:
        raise TrainerError(f"{model_path}: found {len(layers)} linear layers and {relus} ReLUs, not bc.py's MLP" + (f" {members} times" if members > 1 else ""))
    obs_dim = metadata["inputs"][0]["shape"][1]
    chunk, act_dim = metadata["outputs"][0]["shape"][1:]
    per = len(layers) // members
    rebuilt = [_mlp_from_layers(model_path, layers[k * per : (k + 1) * per], architecture, metadata, framed, obs_dim, chunk, act_dim) for k in range(members)]
    policy: Policy | Ensemble = rebuilt[0] if members == 1 else Ensemble(rebuilt)
    if framed or members > 1:  # the frame's constants come from policy.json, the mean from the graph: check both
        observation = np.random.default_rng(0).standard_normal((8, obs_dim)).astype(np.float32)
        (want,) = run_numpy(model, {"observation": observation})[:1]
        with torch.no_grad():
            got = policy(torch.from_numpy(observation)).numpy()
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-4, atol=1e-4):
            raise TrainerError(f"{model_path}: the graph's outputs differ from the module policy.json describes (max {np.abs(got - want).max():.3g})")
    return policy


def _mlp_from_layers(
    model_path: Path, layers: list[tuple[np.ndarray, np.ndarray]], architecture: dict[str, typing.Any], metadata: dict[str, typing.Any],
    framed: bool, obs_dim: int, chunk: int, act_dim: int,
) -> Policy:
    """One MLP (in the object-goal frame when `framed`) holding these linear layers' weights."""
    widths = [w.shape[0] for w, _ in layers[:-1]]
    if len(layers) < 2 or len(set(widths)) != 1:
        raise TrainerError(f"{model_path}: hidden widths {widths} are not one repeated width (bc.py's MLP)")
    width_in = mlp_policy.ObjectGoalFrame.FEATURES if framed else obs_dim
    if layers[0][0].shape[1] != width_in or layers[-1][0].shape[0] != chunk * act_dim:
        raise TrainerError(
            f"{model_path}: layers map {layers[0][0].shape[1]} -> {layers[-1][0].shape[0]}, "
            f"metadata says {width_in} -> {chunk}x{act_dim}"
        )
    for (w_in, _), (w_out, _) in zip(layers, layers[1:]):
        if w_out.shape[1] != w_in.shape[0]:
            raise TrainerError(f"{model_path}: layer widths do not chain ({w_in.shape} then {w_out.shape})")
    if framed:
        obs, act = metadata["observation"], metadata["action"]
        horizon = architecture.get("goal_horizon")
        if horizon is not None and (isinstance(horizon, bool) or not isinstance(horizon, (int, float)) or not horizon > 0):
            raise TrainerError(f"{model_path}: policy.json names goal horizon {horizon!r}, not a distance > 0")
        policy = mlp_policy.frame_policy(obs["fields"], np.asarray(obs["mean"], np.float32), np.asarray(obs["std"], np.float32),
                                         act_dim, chunk, widths[0], len(widths), None if horizon is None else float(horizon))
        with torch.no_grad():
            policy.feature_mean.copy_(torch.tensor(architecture["feature_mean"], dtype=torch.float32))
            policy.feature_std.copy_(torch.tensor(architecture["feature_std"], dtype=torch.float32))
            policy.action_mean.copy_(torch.tensor(act["mean"], dtype=torch.float32))
            policy.action_std.copy_(torch.tensor(act["std"], dtype=torch.float32))
            policy.action_scale.copy_(torch.tensor(float(architecture["action_scale"])))
    else:
        policy = Policy(obs_dim, act_dim, chunk, widths[0], len(widths))
    linears = [m for m in policy.net if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for linear, (weight, bias) in zip(linears, layers):
            linear.weight.copy_(torch.from_numpy(np.array(weight, dtype=np.float32)))
            linear.bias.copy_(torch.from_numpy(np.array(bias, dtype=np.float32)))
    return policy


def value_network(obs_dim: int, hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))


def predict(network: nn.Module, x: torch.Tensor, batch: int = 8192) -> np.ndarray:
    network.eval()
    with torch.no_grad():
        return torch.cat([network(x[s : s + batch]) for s in range(0, len(x), batch)]).reshape(len(x), -1).numpy()


# ---------------------------------------------------------------------------------------------------------------


def train(args: Args) -> None:
    started = time.perf_counter()
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)

    common.seed_everything(args.seed, args.threads)

    snapshot = load_snapshot(Path(args.data))
    manifest = snapshot.manifest
    base = Path(args.base)
    metadata_path = base / "policy.json"
    try:
        parent = json.loads(metadata_path.read_text())
    except (ValueError, OSError) as error:
        raise TrainerError(f"cannot read {metadata_path}: {error}") from None
    if parent.get("format") != mlp_policy.METADATA_FORMAT:
        raise TrainerError(f"{metadata_path} has format {parent.get('format')!r}, expected {mlp_policy.METADATA_FORMAT!r}")
    if parent["observation"]["fields"] != manifest["observation_fields"]:
        raise TrainerError(f"{metadata_path} observation fields differ from the snapshot's")
    if parent["action"]["joints"] != manifest["action"]["joints"] or parent["action"]["mode"] != manifest["action"]["mode"]:
        raise TrainerError(f"{metadata_path} action joints/mode differ from the snapshot's")
    policy = load_policy_weights(base / parent.get("model", "policy.onnx"), parent)
    chunk, act_dim = policy.chunk, policy.act_dim
    obs_dim = snapshot.observations.shape[1]
    gamma = args.gamma if args.gamma >= 0 else float(manifest["gamma"])

    obs_mean = np.asarray(parent["observation"]["mean"], np.float32)
    obs_std = np.asarray(parent["observation"]["std"], np.float32)
    act_mean = np.asarray(parent["action"]["mean"], np.float32)
    act_std = np.asarray(parent["action"]["std"], np.float32)
    observations = torch.from_numpy(((snapshot.observations - obs_mean) / obs_std).astype(np.float32))
    targets = mlp_policy.chunk_targets(snapshot.actions, snapshot.episode_index, chunk)
    actions = torch.from_numpy(((targets - act_mean) / act_std).astype(np.float32))

    value = value_network(obs_dim, args.value_hidden)
    value_optimizer = torch.optim.Adam(value.parameters(), lr=args.value_lr)
    actor_optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
    batch_order = torch.Generator().manual_seed(args.seed)
    # Returns are regressed in units of their scale so value_lr does not depend on the reward scale.
    first_returns = discounted_returns(
        snapshot.rewards, snapshot.terminals, snapshot.episode_index, np.zeros(len(snapshot.rewards)), gamma
    )
    return_scale = float(max(first_returns.std(), STD_FLOOR))
    initial_bc_loss = mlp_policy.mean_loss(policy, observations, actions)

    history: list[dict[str, typing.Any]] = []
    n = len(observations)
    for epoch in range(1, args.epochs + 1):
        epoch_started = time.perf_counter()
        values = predict(value, observations)[:, 0] * return_scale
        returns = discounted_returns(snapshot.rewards, snapshot.terminals, snapshot.episode_index, values, gamma)
        value_targets = torch.from_numpy((returns / return_scale).astype(np.float32))[:, None]
        value.train()
        value_loss_sum = 0.0
        for batch in torch.randperm(n, generator=batch_order).split(args.batch_size):
            loss = nn.functional.mse_loss(value(observations[batch]), value_targets[batch])
            value_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            value_optimizer.step()
            value_loss_sum += loss.item() * len(batch)

        values = predict(value, observations)[:, 0] * return_scale
        advantages = normalized_advantages(returns, values)
        weights_np = awr_weights(advantages, args.beta, args.w_max)
        weights = torch.from_numpy(weights_np.astype(np.float32))
        policy.train()
        actor_loss_sum = 0.0
        for batch in torch.randperm(n, generator=batch_order).split(args.batch_size):
            w = weights[batch]
            per_sample = ((policy(observations[batch]) - actions[batch]) ** 2).mean(dim=(1, 2))
            loss = (w * per_sample).sum() / w.sum()
            actor_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            actor_optimizer.step()
            actor_loss_sum += loss.item() * len(batch)
        actor_loss = actor_loss_sum / n
        if not np.isfinite(actor_loss):
            raise TrainerError(f"actor loss became {actor_loss} in epoch {epoch}; try a lower --lr")
        seconds = time.perf_counter() - epoch_started
        record = {
            "event": "progress",
            "epoch": epoch,
            "epochs": args.epochs,
            "charts/epoch": epoch,
            "charts/mean_return": float(returns.mean()),
            "charts/weight_mean": float(weights_np.mean()),
            "charts/weight_clipped_fraction": float((weights_np >= args.w_max * (1 - 1e-9)).mean()),
            "charts/effective_sample_fraction": float(weights_np.sum() ** 2 / (weights_np**2).sum() / n),
            "losses/actor": actor_loss,
            "losses/value": value_loss_sum / n,
            "perf/samples_per_s": 2 * n / seconds,
            "perf/epoch_s": seconds,
        }
        history.append(record)
        common.emit(record)

    final_bc_loss = mlp_policy.mean_loss(policy, observations, actions)
    model_bytes = mlp_policy.export_onnx(policy, obs_dim)
    onnx_check = mlp_policy.verify_onnx(model_bytes, policy, obs_dim, chunk, act_dim)
    sha256 = hashlib.sha256(model_bytes).hexdigest()
    episodes = manifest["episodes"]
    metadata = mlp_policy.policy_metadata(
        name=args.name or parent["name"],
        version=args.version or now.strftime("awr-%Y%m%d%H%M%S"),
        task=parent["task"],
        created=now.isoformat().replace("+00:00", "Z"),
        sha256=sha256,
        obs_dim=obs_dim,
        act_dim=act_dim,
        chunk=chunk,
        meta={"observation_fields": parent["observation"]["fields"], "action": parent["action"]},
        obs_mean=obs_mean,
        obs_std=obs_std,
        act_mean=act_mean,
        act_std=act_std,
        training={
            "algorithm": "awr",
            "parent_version": parent["version"],
            "parent_sha256": parent.get("sha256"),
            "dataset_episodes": len(episodes),
            "dataset_steps": n,
            "successful_episodes": sum(1 for e in episodes if e.get("success") is True),
            "epochs": args.epochs,
            "gamma": gamma,
            "beta": args.beta,
            "w_max": args.w_max,
            "initial_bc_loss": initial_bc_loss,
            "final_bc_loss": final_bc_loss,
            "final_actor_loss": history[-1]["losses/actor"],
            "final_value_loss": history[-1]["losses/value"],
            "mean_return": history[-1]["charts/mean_return"],
            "seed": args.seed,
            "torch": torch.__version__,
        },
        architecture=policy.architecture(),
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    common.write_atomic(out / "policy.onnx", model_bytes)
    common.write_atomic(out / "policy.card.md", model_card(metadata, args, history).encode())
    common.write_atomic(out / "policy.json", (json.dumps(metadata, indent=2) + "\n").encode())
    common.emit({
        "event": "done",
        "epochs": args.epochs,
        "losses/actor": history[-1]["losses/actor"],
        "losses/value": history[-1]["losses/value"],
        "losses/bc_initial": initial_bc_loss,
        "losses/bc_final": final_bc_loss,
        "model": str(out / "policy.onnx"),
        "metadata": str(out / "policy.json"),
        "sha256": sha256,
        "version": metadata["version"],
        "parent_version": parent["version"],
        "onnx_check": onnx_check,
        "perf/total_s": time.perf_counter() - started,
    })


def model_card(metadata: dict[str, typing.Any], args: Args, history: list[dict[str, typing.Any]]) -> str:
    t = metadata["training"]
    rows = "\n".join(
        f"| {h['epoch']} | {h['losses/actor']:.5f} | {h['losses/value']:.5f} | {h['charts/weight_mean']:.3f} |"
        for h in history
    )
    arg_rows = "\n".join(f"| `--{k.replace('_', '-')}` | `{v}` |" for k, v in dataclasses.asdict(args).items())
    return f"""# {metadata['name']} {metadata['version']}

An advantage-weighted regression round on `{metadata['task']}`, started from `{t['parent_version']}` and trained on
{t['dataset_episodes']} stored episodes ({t['dataset_steps']} steps, {t['successful_episodes']} successful) by
`trainer/awr.py` (torch {t['torch']}). γ = {t['gamma']:.5f}, β = {t['beta']}, w_max = {t['w_max']}.
Unweighted BC loss on the snapshot: {t['initial_bc_loss']:.5f} before, {t['final_bc_loss']:.5f} after.

| argument | value |
|---|---|
{arg_rows}

| epoch | actor (weighted) | value | mean weight |
|---|---|---|---|
{rows}

## Evaluation

_Not yet evaluated._ Run `striatum eval` against the parent before publishing.
"""


def main(argv: list[str] | None = None) -> int:
    return common.run_main("awr.py", train, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
