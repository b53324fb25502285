"""Soft actor-critic with RLPD-style sampling (Ball et al. 2023): one round of a learner that compounds.

Each round reads the updater's training snapshot (every stored episode: the demonstrations, recorded through the
same reward models, and the robot's own experience), continues the actor, the critic ensemble, the temperature
and all three optimisers from the learner state on disk (--state), runs gradient steps on batches drawn half from
demonstrations and half from robot data, and exports a Gaussian policy: policy.onnx with two outputs, the action
mean [batch, 1, act] and its log-std [batch, act] (normalized action units), which the robot samples from in
training episodes and runs the mean of in evaluation. The state is written atomically at the end of the round, so
an updater restart resumes where the last finished round left off.

    /usr/bin/python3 trainer/sac_rlpd.py --data SNAPSHOT --base models/push-bc-small --out OUT --state STATE

Choices (documented here once):
- Demonstrations are the snapshot's episodes whose only policy version is --demo-version ("scripted": the
  simulator's expert run through the robot's own reward models). Their rewards are PRM rewards like everyone's.
- Critics: an ensemble of --critics Q-networks with LayerNorm after each hidden layer (RLPD); the TD target takes
  the minimum over a random subset of --critic-subset target critics, minus α·log π (entropy backup):
      y = r + γ·(1 − terminal)·(min_{i∈M} Q′_i(s′, a′) − α·log π(a′|s′)),  a′ ~ π(·|s′).
  s′ of an episode's last row is that row's observation (the next one was not stored): only used at a time-limit
  truncation, where the target bootstraps; at a true terminal (1 − terminal) = 0.
- Actor: a ~ N(μ(s), σ(s)²) in normalized action units (no tanh: the robot's safety filter bounds the command);
  loss α·log π(a|s) − mean_i Q_i(s, a) + a penalty on the part of |a| beyond the largest command in the data,
  since the critic has never seen such actions. The temperature follows SAC: loss −log α·(log π + H̄).
- Actions are the commands the robot wrote (after the safety filter), normalized with the parent's statistics.
- Gradient steps per round: --utd × (rows new since the last round), within [--min-updates, --max-updates].
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import io
import inspect
import json
import math
import sys
import time
import typing
from dataclasses import dataclass
from pathlib import Path

import common  # first: it sets OMP_WAIT_POLICY before torch loads
import mlp_policy
import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from awr import load_policy_weights, load_snapshot
from common import TrainerError, episode_bounds

STATE_FILE = "learner.npz"
STATE_FORMAT = "striatum.sac-rlpd-state/v1"
LOG_STD_MIN, LOG_STD_MAX = -5.0, 1.0


@dataclass
class Args:
    data: str
    """training snapshot directory written by the updater"""
    base: str
    """directory of the policy the robots run now (policy.onnx, policy.json): the round continues from it"""
    out: str
    """output directory for policy.onnx (mean + log-std outputs), policy.json and policy.card.md"""
    state: str
    """learner state directory (critics, temperature, optimisers, actor), kept between rounds and restarts"""
    demo_version: str = "scripted"
    """episodes whose only policy version is this are demonstrations"""
    demo_fraction: float = 0.5
    """share of each batch drawn from demonstrations (RLPD: 0.5); all from robot data when there are none"""
    gamma: float = -1.0
    """discount per control step; negative means the snapshot manifest's gamma"""
    utd: float = 0.5
    """gradient steps per new snapshot row"""
    min_updates: int = 200
    """fewest gradient steps in a round"""
    max_updates: int = 4000
    """most gradient steps in a round"""
    batch_size: int = 256
    """transitions per gradient step"""
    critics: int = 4
    """Q-networks in the ensemble"""
    critic_subset: int = 2
    """target critics the TD target takes the minimum over (drawn at random each step)"""
    hidden: int = 256
    """units in each of the critics' two hidden layers"""
    lr: float = 3e-4
    """critic and temperature learning rate"""
    actor_lr: float = 1e-4
    """actor learning rate (smaller: the actor starts from a trained policy)"""
    tau: float = 0.005
    """target critic update rate (Polyak)"""
    init_log_std: float = -1.0
    """log-std of a fresh actor (normalized action units); the first round from a deterministic base"""
    init_alpha: float = 0.01
    """temperature α of a fresh learner"""
    target_entropy: float = float("nan")
    """entropy target H̄ of the temperature loss; NaN means −(action dimensions)"""
    bc_weight: float = 0.0
    """weight of a behaviour-cloning term on the demonstration half of the batch (0: pure RLPD); with it the Q term
    is divided by the batch's mean |Q| (TD3+BC), so the weight does not depend on the reward scale"""
    actor_warmup: int = 500
    """the learner's first gradient steps (over all rounds) train only the critics: a random critic would drag
    the actor away from its base"""
    bound_penalty: float = 10.0
    """weight of the penalty on actions beyond the largest command in the data"""
    seed: int = 1
    """seed for python, numpy and torch and the batch draws"""
    threads: int = 2
    """CPU threads for torch and OpenBLAS"""
    name: str = ""
    """policy name in the metadata; empty means the parent's name"""
    version: str = ""
    """policy version in the metadata; empty means 'sac-<round>-YYYYmmddHHMMSS' (UTC)"""


def parse_args(argv: list[str] | None = None) -> Args:
    parsed = common.dataclass_parser(Args, "sac_rlpd.py", (__doc__ or "").splitlines()[0]).parse_args(argv)
    args = Args(**vars(parsed))
    for name in ("batch_size", "critics", "critic_subset", "hidden", "threads", "max_updates"):
        if getattr(args, name) < 1:
            raise SystemExit(f"sac_rlpd.py: error: --{name.replace('_', '-')} must be at least 1")
    if args.critic_subset > args.critics:
        raise SystemExit("sac_rlpd.py: error: --critic-subset cannot exceed --critics")
    if not 0 <= args.demo_fraction <= 1:
        raise SystemExit("sac_rlpd.py: error: --demo-fraction must be in [0, 1]")
    if args.min_updates < 0 or args.min_updates > args.max_updates:
        raise SystemExit("sac_rlpd.py: error: --min-updates must be in [0, --max-updates]")
    if args.actor_warmup < 0:
        raise SystemExit("sac_rlpd.py: error: --actor-warmup must be at least 0")
    for name in ("lr", "actor_lr", "tau", "init_alpha"):
        if not getattr(args, name) > 0:
            raise SystemExit(f"sac_rlpd.py: error: --{name.replace('_', '-')} must be positive")
    if args.gamma >= 0 and not 0 < args.gamma <= 1:
        raise SystemExit("sac_rlpd.py: error: --gamma must be in (0, 1], or negative for the manifest's")
    return args


# ---------------------------------------------------------------------------------------------------------------
# The math. No I/O, tested directly (trainer/tests/test_sac_rlpd.py).


def gaussian_log_prob(actions: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """log N(a; μ, σ²) summed over the last dimension: −½ Σ ((a − μ)/σ)² + 2 log σ + log 2π."""
    z = (actions - mean) * torch.exp(-log_std)
    return -0.5 * (z * z + 2 * log_std + math.log(2 * math.pi)).sum(-1)


def td_targets(
    rewards: torch.Tensor, terminals: torch.Tensor, next_q: torch.Tensor, next_log_prob: torch.Tensor,
    alpha: float, gamma: float,
) -> torch.Tensor:
    """y = r + γ·(1 − terminal)·(Q′ − α·log π′), Q′ already the minimum over the target subset."""
    return rewards + gamma * (1.0 - terminals) * (next_q - alpha * next_log_prob)


def temperature_loss(log_alpha: torch.Tensor, log_prob: torch.Tensor, target_entropy: float) -> torch.Tensor:
    """SAC's temperature objective: α rises when the policy's entropy (−E log π) is below the target."""
    return -(log_alpha * (log_prob.detach() + target_entropy)).mean()


def bound_excess(actions: torch.Tensor, bound: torch.Tensor) -> torch.Tensor:
    """Mean squared part of |a| beyond the bound, per joint (0 inside)."""
    return (F.relu(actions.abs() - bound) ** 2).sum(-1).mean()


def mixed_batch(rng: np.random.Generator, demo_rows: np.ndarray, online_rows: np.ndarray, batch: int, demo_fraction: float) -> np.ndarray:
    """Row indices: round(batch·demo_fraction) drawn uniformly from the demonstrations, the rest from robot data;
    all from the one that is not empty when the other is."""
    if len(demo_rows) == 0 and len(online_rows) == 0:
        raise TrainerError("no transitions to sample from")
    n_demo = int(round(batch * demo_fraction))
    if len(online_rows) == 0:
        n_demo = batch
    elif len(demo_rows) == 0:
        n_demo = 0
    parts = []
    if n_demo > 0:
        parts.append(demo_rows[rng.integers(0, len(demo_rows), n_demo)])
    if batch - n_demo > 0:
        parts.append(online_rows[rng.integers(0, len(online_rows), batch - n_demo)])
    return np.concatenate(parts)


def next_rows(episode_index: np.ndarray) -> np.ndarray:
    """Row of s′ for each row: the next row of the same episode; an episode's last row points at itself."""
    _, ends = episode_bounds(episode_index)
    following = np.arange(len(episode_index)) + 1
    following[ends - 1] = ends - 1
    return following


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters()):
            t.mul_(1 - tau).add_(s, alpha=tau)


# ---------------------------------------------------------------------------------------------------------------
# Networks.


class Actor(nn.Module):
    """The mean is bc.py's MLP (chunk 1), so a behaviour-cloned base continues as it is; the log-std is a linear
    function of the normalized observation (initialised constant). Exports as two outputs."""

    def __init__(self, mean: mlp_policy.Policy, obs_dim: int, act_dim: int, init_log_std: float):
        super().__init__()
        self.mean = mean
        self.log_std = nn.Linear(obs_dim, act_dim)
        with torch.no_grad():
            self.log_std.weight.zero_()
            self.log_std.bias.fill_(init_log_std)

    def forward(self, observation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean(observation), self.log_std(observation)

    def distribution(self, observation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self(observation)
        return mean[:, 0, :], log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, observation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reparameterised sample, its log-probability, and the mean."""
        mean, log_std = self.distribution(observation)
        action = mean + torch.exp(log_std) * torch.randn_like(mean)
        return action, gaussian_log_prob(action, mean, log_std), mean


class CriticEnsemble(nn.Module):
    """E independent Q(s, a) networks evaluated in one batched matmul: [E, B, in] → [E, B]."""

    def __init__(self, members: int, in_dim: int, hidden: int):
        super().__init__()
        def weight(fan_in: int, fan_out: int) -> nn.Parameter:
            bound = 1 / math.sqrt(fan_in)
            return nn.Parameter(torch.empty(members, fan_in, fan_out).uniform_(-bound, bound))
        self.w1, self.b1 = weight(in_dim, hidden), nn.Parameter(torch.zeros(members, 1, hidden))
        self.g1, self.h1 = nn.Parameter(torch.ones(members, 1, hidden)), nn.Parameter(torch.zeros(members, 1, hidden))
        self.w2, self.b2 = weight(hidden, hidden), nn.Parameter(torch.zeros(members, 1, hidden))
        self.g2, self.h2 = nn.Parameter(torch.ones(members, 1, hidden)), nn.Parameter(torch.zeros(members, 1, hidden))
        self.w3, self.b3 = weight(hidden, 1), nn.Parameter(torch.zeros(members, 1, 1))
        self.members = members

    def forward(self, observation: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([observation, action], -1).unsqueeze(0).expand(self.members, -1, -1)
        x = torch.baddbmm(self.b1, x, self.w1)
        x = F.relu(F.layer_norm(x, x.shape[-1:]) * self.g1 + self.h1)
        x = torch.baddbmm(self.b2, x, self.w2)
        x = F.relu(F.layer_norm(x, x.shape[-1:]) * self.g2 + self.h2)
        return torch.baddbmm(self.b3, x, self.w3)[..., 0]


# ---------------------------------------------------------------------------------------------------------------
# Export: two outputs; checked with onnx's checker and the numpy evaluator of mlp_policy (Gemm/Relu/Reshape only).


def export_actor(actor: Actor, obs_dim: int) -> bytes:
    actor.eval()
    buffer = io.BytesIO()
    options: dict[str, typing.Any] = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        options["dynamo"] = False
    torch.onnx.export(
        actor, (torch.zeros(1, obs_dim),), buffer, input_names=["observation"], output_names=["action", "log_std"],
        dynamic_axes={"observation": {0: "batch"}, "action": {0: "batch"}, "log_std": {0: "batch"}},
        opset_version=mlp_policy.ONNX_OPSET, do_constant_folding=True, **options,
    )
    model = onnx.load_model_from_string(buffer.getvalue())
    act_dim = actor.mean.act_dim
    for dim, size in zip(model.graph.output[0].type.tensor_type.shape.dim[1:], (1, act_dim)):
        dim.dim_value = size
    model.graph.output[1].type.tensor_type.shape.dim[1].dim_value = act_dim
    return model.SerializeToString()


def verify_actor(model_bytes: bytes, actor: Actor, obs_dim: int, act_dim: int) -> str:
    model = onnx.load_model_from_string(model_bytes)
    onnx.checker.check_model(model, full_check=True)
    spec = [(v.name, mlp_policy.graph_shape(v)) for v in list(model.graph.input) + list(model.graph.output)]
    want_spec = [("observation", [-1, obs_dim]), ("action", [-1, 1, act_dim]), ("log_std", [-1, act_dim])]
    if spec != want_spec:
        raise TrainerError(f"exported graph has inputs/outputs {spec}, expected {want_spec}")
    observation = np.random.default_rng(0).standard_normal((5, obs_dim)).astype(np.float32)
    with torch.no_grad():
        want = [t.numpy() for t in actor(torch.from_numpy(observation))]
    got = mlp_policy.run_numpy(model, {"observation": observation})
    if got is None:
        return "skipped (the graph has ops the numpy evaluator does not know)"
    for g, w in zip(got, want):
        if g.shape != w.shape or not np.allclose(g, w, rtol=1e-4, atol=1e-5):
            raise TrainerError(f"ONNX output differs from torch (max abs difference {np.abs(g - w).max()})")
    return "numpy"


def policy_metadata(parent: dict[str, typing.Any], version: str, name: str, created: str, sha256: str, obs_dim: int, act_dim: int, training: dict[str, typing.Any]) -> dict[str, typing.Any]:
    meta = mlp_policy.policy_metadata(
        name=name, version=version, task=parent["task"], created=created, sha256=sha256, obs_dim=obs_dim,
        act_dim=act_dim, chunk=1, meta={"observation_fields": parent["observation"]["fields"], "action": parent["action"]},
        obs_mean=np.asarray(parent["observation"]["mean"], np.float32), obs_std=np.asarray(parent["observation"]["std"], np.float32),
        act_mean=np.asarray(parent["action"]["mean"], np.float32), act_std=np.asarray(parent["action"]["std"], np.float32),
        training=training,
    )
    meta["outputs"].append({"name": "log_std", "shape": [-1, act_dim], "dtype": "float32"})
    return meta


# ---------------------------------------------------------------------------------------------------------------
# Learner state on disk: one .npz (np.load with allow_pickle=False: nothing is unpickled), tensors as arrays and
# the rest (numbers, strings, the optimisers' settings) as one JSON entry; written next to its final name, renamed.


def flatten_state(value: typing.Any, arrays: dict[str, np.ndarray], path: str = "s") -> typing.Any:
    if isinstance(value, torch.Tensor):
        arrays[path] = value.detach().cpu().numpy()
        return {"__array__": path, "scalar": value.dim() == 0}
    if isinstance(value, dict):
        return {"__dict__": [[flatten_state(k, arrays, f"{path}.k{i}"), flatten_state(v, arrays, f"{path}.{i}")] for i, (k, v) in enumerate(value.items())]}
    if isinstance(value, (list, tuple)):
        return {"__list__": [flatten_state(v, arrays, f"{path}.{i}") for i, v in enumerate(value)], "tuple": isinstance(value, tuple)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TrainerError(f"learner state: cannot store a {type(value).__name__} at {path}")


def unflatten_state(value: typing.Any, arrays: typing.Any) -> typing.Any:
    if isinstance(value, dict) and "__array__" in value:
        array = torch.from_numpy(np.array(arrays[value["__array__"]]))
        return array.reshape(()) if value["scalar"] else array
    if isinstance(value, dict) and "__dict__" in value:
        return {unflatten_state(k, arrays): unflatten_state(v, arrays) for k, v in value["__dict__"]}
    if isinstance(value, dict) and "__list__" in value:
        items = [unflatten_state(v, arrays) for v in value["__list__"]]
        return tuple(items) if value["tuple"] else items
    return value


def save_state(path: Path, state: dict[str, typing.Any]) -> None:
    arrays: dict[str, np.ndarray] = {}
    tree = flatten_state(state, arrays)
    arrays["__tree__"] = np.frombuffer(json.dumps(tree).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    common.write_atomic(path, buffer.getvalue())


def load_state(path: Path, state_format: str = STATE_FORMAT) -> dict[str, typing.Any] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as arrays:
            tree = json.loads(arrays["__tree__"].tobytes().decode())
            state = unflatten_state(tree, arrays)
    except Exception as error:  # a damaged file: say so, never start silently from scratch
        raise TrainerError(f"cannot read learner state {path}: {str(error).splitlines()[0] if str(error) else type(error).__name__}; move it away to start a fresh learner") from None
    if not isinstance(state, dict) or state.get("format") != state_format:
        raise TrainerError(f"{path} is not a {state_format} learner state")
    return state


# ---------------------------------------------------------------------------------------------------------------


def train(args: Args) -> None:
    started = time.perf_counter()
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    common.seed_everything(args.seed, args.threads)
    torch.use_deterministic_algorithms(False)  # baddbmm backward has no deterministic CPU kernel flag; results are seeded

    snapshot = load_snapshot(Path(args.data))
    manifest = snapshot.manifest
    base = Path(args.base)
    try:
        parent = json.loads((base / "policy.json").read_text())
    except (ValueError, OSError) as error:
        raise TrainerError(f"cannot read {base / 'policy.json'}: {error}") from None
    if parent["observation"]["fields"] != manifest["observation_fields"] or parent["action"]["joints"] != manifest["action"]["joints"]:
        raise TrainerError(f"{base / 'policy.json'} observation fields or joints differ from the snapshot's")
    if parent["action"]["chunk"] != 1:
        raise TrainerError(f"{base / 'policy.json'} predicts chunks of {parent['action']['chunk']}; sac_rlpd.py trains chunk 1")
    obs_dim = snapshot.observations.shape[1]
    act_dim = snapshot.actions.shape[1]
    gamma = args.gamma if args.gamma >= 0 else float(manifest["gamma"])
    target_entropy = -float(act_dim) if math.isnan(args.target_entropy) else args.target_entropy

    state_path = Path(args.state) / STATE_FILE
    state = load_state(state_path)
    obs_mean = np.asarray(parent["observation"]["mean"], np.float32)
    obs_std = np.asarray(parent["observation"]["std"], np.float32)
    act_mean = np.asarray(parent["action"]["mean"], np.float32)
    act_std = np.asarray(parent["action"]["std"], np.float32)

    # The actor: the learner's own when the robots run the version it last exported, else the base's weights.
    if state is not None and state["actor_version"] == parent["version"]:
        mean_net = mlp_policy.Policy(obs_dim, act_dim, 1, int(state["actor_hidden"]), int(state["actor_layers"]))
        actor = Actor(mean_net, obs_dim, act_dim, args.init_log_std)
        actor.load_state_dict(state["actor"])
        actor_source = "learner state"
    else:
        if len(parent["outputs"]) > 1:
            raise TrainerError(
                f"{base} is a Gaussian policy ({parent['version']}) but the learner state holds "
                f"{state['actor_version'] if state else 'no actor'}: restore {state_path} or start from a deterministic base"
            )
        mean_net = load_policy_weights(base / parent.get("model", "policy.onnx"), parent)
        if isinstance(mean_net, mlp_policy.Ensemble):
            raise TrainerError(f"{base} is the mean of {len(mean_net.members)} MLPs ({parent['version']}); sac_rlpd.py continues one plain MLP")
        if mean_net.frame is not None:
            raise TrainerError(f"{base} sees the observation through the {mean_net.architecture()['frame']} frame; sac_rlpd.py continues plain MLPs")
        actor = Actor(mean_net, obs_dim, act_dim, args.init_log_std)
        actor_source = f"base {parent['version']}"
    hidden = mean_net.net[0].out_features
    layers = sum(1 for m in mean_net.net if isinstance(m, nn.Linear)) - 1

    critic = CriticEnsemble(args.critics, obs_dim + act_dim, args.hidden)
    target = CriticEnsemble(args.critics, obs_dim + act_dim, args.hidden)
    log_alpha = torch.tensor(math.log(args.init_alpha), requires_grad=True)
    actor_optimizer = torch.optim.Adam(actor.parameters(), lr=args.actor_lr)
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=args.lr)
    alpha_optimizer = torch.optim.Adam([log_alpha], lr=args.lr)
    rounds, updates_done, rows_seen = 0, 0, 0
    if state is not None:
        if state["critic_shape"] != [args.critics, obs_dim + act_dim, args.hidden]:
            raise TrainerError(f"{state_path} holds critics of shape {state['critic_shape']}, this round asks for {[args.critics, obs_dim + act_dim, args.hidden]}")
        critic.load_state_dict(state["critic"])
        target.load_state_dict(state["target"])
        with torch.no_grad():
            log_alpha.copy_(state["log_alpha"])
        critic_optimizer.load_state_dict(state["critic_optimizer"])
        alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        if actor_source == "learner state":
            actor_optimizer.load_state_dict(state["actor_optimizer"])
        rounds, updates_done, rows_seen = int(state["rounds"]), int(state["updates"]), int(state["rows_seen"])
    else:
        target.load_state_dict(critic.state_dict())
    for p in target.parameters():
        p.requires_grad_(False)

    # Transitions, normalized in the parent's units.
    observations = torch.from_numpy((snapshot.observations - obs_mean) / obs_std)
    actions = torch.from_numpy((snapshot.actions - act_mean) / act_std)
    rewards = torch.from_numpy(snapshot.rewards.astype(np.float32))
    terminals = torch.from_numpy(snapshot.terminals.astype(np.float32))
    following = torch.from_numpy(next_rows(snapshot.episode_index))
    bound = actions.abs().max(0).values
    demo_episodes = {int(e["index"]) for e in manifest["episodes"] if e.get("policy_versions") == [args.demo_version]}
    is_demo = np.isin(snapshot.episode_index, list(demo_episodes))
    demo_rows, online_rows = np.flatnonzero(is_demo), np.flatnonzero(~is_demo)
    n = len(observations)
    new_rows = max(0, n - rows_seen)
    updates = int(min(args.max_updates, max(args.min_updates, round(args.utd * new_rows))))
    rng = np.random.default_rng(args.seed + rounds)
    subset_rng = torch.Generator().manual_seed(args.seed + rounds)
    initial_bc = bc_error(actor, observations, actions, demo_rows)

    history: list[dict[str, typing.Any]] = []
    sums = {"critic": 0.0, "actor": 0.0, "alpha": 0.0, "q": 0.0, "log_prob": 0.0}
    report_every = max(1, updates // 10)
    for step in range(1, updates + 1):
        rows = torch.from_numpy(mixed_batch(rng, demo_rows, online_rows, args.batch_size, args.demo_fraction))
        s, a, r, d = observations[rows], actions[rows], rewards[rows], terminals[rows]
        s_next = observations[following[rows]]
        alpha = float(log_alpha.exp())
        with torch.no_grad():
            a_next, log_prob_next, _ = actor.sample(s_next)
            members = torch.randperm(args.critics, generator=subset_rng)[: args.critic_subset]
            q_next = target(s_next, a_next)[members].min(0).values
            y = td_targets(r, d, q_next, log_prob_next, alpha, gamma)
        critic_loss = ((critic(s, a) - y) ** 2).mean(1).sum()
        critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        critic_optimizer.step()

        a_new, log_prob, mean = actor.sample(s)
        q = critic(s, a_new).mean(0)
        q_scale = 1.0 / max(float(q.abs().mean()), 1e-6) if args.bc_weight > 0 else 1.0
        actor_loss = (alpha * log_prob - q_scale * q).mean() + args.bound_penalty * bound_excess(a_new, bound)
        if args.bc_weight > 0 and len(demo_rows) > 0:
            demo_part = torch.from_numpy(is_demo[rows.numpy()])
            if bool(demo_part.any()):
                actor_loss = actor_loss + args.bc_weight * ((mean[demo_part] - a[demo_part]) ** 2).sum(-1).mean()
        alpha_loss = temperature_loss(log_alpha, log_prob, target_entropy)
        if updates_done + step > args.actor_warmup:
            actor_optimizer.zero_grad(set_to_none=True)
            actor_loss.backward()
            actor_optimizer.step()
            alpha_optimizer.zero_grad(set_to_none=True)
            alpha_loss.backward()
            alpha_optimizer.step()
        soft_update(target, critic, args.tau)

        for key, value in (("critic", critic_loss), ("actor", actor_loss), ("alpha", alpha_loss), ("q", q.mean()), ("log_prob", log_prob.mean())):
            sums[key] += float(value)
        if not math.isfinite(float(critic_loss)) or not math.isfinite(float(actor_loss)):
            raise TrainerError(f"loss became non-finite at gradient step {step} (critic {float(critic_loss)}, actor {float(actor_loss)}); try a lower --lr")
        if step % report_every == 0 or step == updates:
            k = report_every if step % report_every == 0 else step % report_every
            record = {
                "event": "progress", "epoch": step, "epochs": updates,
                "losses/critic": sums["critic"] / k, "losses/actor": sums["actor"] / k, "losses/alpha": sums["alpha"] / k,
                "charts/q": sums["q"] / k, "charts/entropy": -sums["log_prob"] / k, "charts/alpha": float(log_alpha.exp()),
                "perf/updates_per_s": step / (time.perf_counter() - started),
            }
            sums = dict.fromkeys(sums, 0.0)
            history.append(record)
            common.emit(record)

    final_bc = bc_error(actor, observations, actions, demo_rows)
    model_bytes = export_actor(actor, obs_dim)
    onnx_check = verify_actor(model_bytes, actor, obs_dim, act_dim)
    sha256 = hashlib.sha256(model_bytes).hexdigest()
    version = args.version or f"sac-{rounds + 1}-{now.strftime('%Y%m%d%H%M%S')}"
    episodes = manifest["episodes"]
    with torch.no_grad():
        log_std_now = actor.distribution(observations[:1])[1][0].tolist()
    training = {
        "algorithm": "sac_rlpd", "parent_version": parent["version"], "parent_sha256": parent.get("sha256"),
        "round": rounds + 1, "actor_from": actor_source, "dataset_episodes": len(episodes), "dataset_steps": n,
        "demo_episodes": len(demo_episodes), "demo_steps": int(len(demo_rows)), "new_steps": new_rows,
        "gradient_steps": updates, "gradient_steps_total": updates_done + updates, "gamma": gamma,
        "alpha": float(log_alpha.exp()), "log_std": log_std_now, "demo_bc_error_before": initial_bc,
        "demo_bc_error_after": final_bc, "seed": args.seed, "torch": torch.__version__,
    }
    metadata = policy_metadata(parent, version, args.name or parent["name"], now.isoformat().replace("+00:00", "Z"), sha256, obs_dim, act_dim, training)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    common.write_atomic(out / "policy.onnx", model_bytes)
    common.write_atomic(out / "policy.card.md", model_card(metadata, args, history).encode())
    common.write_atomic(out / "policy.json", (json.dumps(metadata, indent=2) + "\n").encode())
    # Last: a state that names this version exists only once its model does.
    save_state(state_path, {
        "format": STATE_FORMAT, "actor_version": version, "actor_hidden": hidden, "actor_layers": layers,
        "actor": actor.state_dict(), "critic": critic.state_dict(), "target": target.state_dict(), "log_alpha": log_alpha.detach(),
        "actor_optimizer": actor_optimizer.state_dict(), "critic_optimizer": critic_optimizer.state_dict(),
        "alpha_optimizer": alpha_optimizer.state_dict(), "critic_shape": [args.critics, obs_dim + act_dim, args.hidden],
        "rounds": rounds + 1, "updates": updates_done + updates, "rows_seen": n,
    })
    last = history[-1] if history else {}
    common.emit({
        "event": "done", "epochs": updates, "losses/critic": last.get("losses/critic"), "losses/actor": last.get("losses/actor"),
        "model": str(out / "policy.onnx"), "metadata": str(out / "policy.json"), "sha256": sha256, "version": version,
        "parent_version": parent["version"], "actor_from": actor_source, "round": rounds + 1, "onnx_check": onnx_check,
        "state": str(state_path), "perf/total_s": time.perf_counter() - started,
    })


def bc_error(actor: Actor, observations: torch.Tensor, actions: torch.Tensor, rows: np.ndarray) -> float | None:
    """Mean squared distance of the actor's mean from the demonstrated commands (normalized units)."""
    if len(rows) == 0:
        return None
    with torch.no_grad():
        mean, _ = actor.distribution(observations[torch.from_numpy(rows)])
        return float(((mean - actions[torch.from_numpy(rows)]) ** 2).sum(-1).mean())


def model_card(metadata: dict[str, typing.Any], args: Args, history: list[dict[str, typing.Any]]) -> str:
    t = metadata["training"]
    rows = "\n".join(
        f"| {h['epoch']} | {h['losses/critic']:.5f} | {h['losses/actor']:.5f} | {h['charts/q']:.3f} | {h['charts/entropy']:.3f} | {h['charts/alpha']:.4f} |"
        for h in history
    )
    arg_rows = "\n".join(f"| `--{k.replace('_', '-')}` | `{v}` |" for k, v in dataclasses.asdict(args).items())
    return f"""# {metadata['name']} {metadata['version']}

Round {t['round']} of soft actor-critic with RLPD sampling on `{metadata['task']}` (`trainer/sac_rlpd.py`, torch
{t['torch']}), continued from `{t['parent_version']}` (actor from the {t['actor_from']}). Trained on
{t['dataset_episodes']} stored episodes ({t['dataset_steps']} steps, {t['demo_episodes']} demonstrations of
{t['demo_steps']} steps, {t['new_steps']} steps new this round) with {t['gradient_steps']} gradient steps
({t['gradient_steps_total']} in all). γ = {t['gamma']:.5f}, α = {t['alpha']:.4f}. A Gaussian policy: outputs `action`
(the mean) and `log_std` (normalized action units); the robot samples in training episodes and runs the mean in
evaluation.

| argument | value |
|---|---|
{arg_rows}

| step | critic | actor | Q | entropy | α |
|---|---|---|---|---|---|
{rows}

## Evaluation

_Not yet evaluated._ `striatum learn` evaluates every release on held-out seeds (mean action).
"""


def main(argv: list[str] | None = None) -> int:
    return common.run_main("sac_rlpd.py", train, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
