"""The policy bc.py trains and filtered_bc.py / awr.py improve: an MLP from a normalized observation to a chunk of
normalized actions, optionally seen through a task frame (ObjectGoalFrame), its training targets and statistics, its
ONNX export and check, and the policy.json it ships with (striatum.policy/v1, validated by src/policy/metadata.ts on
the robot). policy.json's training.architecture says how to rebuild the module from the graph's weights.
"""

from __future__ import annotations

import inspect
import io
import typing

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn

from common import TrainerError, episode_bounds
from onnx_numpy import graph_shape, run_numpy

STD_FLOOR = 1e-6
"""A feature whose standard deviation is below this is constant: its std is set to 1.0 (no scaling)."""
ONNX_OPSET = 17
METADATA_FORMAT = "striatum.policy/v1"


# ---------------------------------------------------------------------------------------------------------------
# The math: chunked targets and normalization statistics.


def chunk_targets(actions: np.ndarray, episode_index: np.ndarray, chunk: int) -> np.ndarray:
    """Targets [N, chunk, act_dim]: row t gets actions t .. t+chunk-1 of its own episode, the last one repeated
    past the episode's end, so no target ever reads into the next episode."""
    starts, ends = episode_bounds(episode_index)
    last_row = np.repeat(ends - 1, ends - starts)  # last row of each row's episode
    rows = np.arange(len(actions))[:, None] + np.arange(chunk)[None, :]
    return actions[np.minimum(rows, last_row[:, None])]


def normalization_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and std as float32 (the runtime computes in float32 too). A column whose std is below
    STD_FLOOR is constant and gets std 1.0, so normalization only centres it instead of blowing it up."""
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=0)
    std = x64.std(axis=0)
    std = np.where(std < STD_FLOOR, 1.0, std)
    return mean.astype(np.float32), std.astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# The network.


FRAMES = ("none", "object-goal")
"""How the policy sees the observation: as recorded, or in the object-goal frame (ObjectGoalFrame)."""

OBJECT_GOAL_ROLES = {"joint_positions": "effector", "joint_velocities": "velocity", "block_position": "object", "pad_position": "goal"}
"""Observation field → role in the object-goal frame; every field must have a role (a planar 2-vector)."""


def frame_columns(fields: list[dict[str, typing.Any]]) -> dict[str, int]:
    """First column of each role's 2-vector in the observation; refuses fields the frame cannot place."""
    columns: dict[str, int] = {}
    column = 0
    for field in fields:
        name, size = field["name"], int(field["size"])
        if name not in OBJECT_GOAL_ROLES or size != 2:
            raise TrainerError(f"the object-goal frame does not know observation field {name} (size {size}); it takes {', '.join(OBJECT_GOAL_ROLES)}, 2 values each")
        columns[OBJECT_GOAL_ROLES[name]] = column
        column += size
    missing = [name for name, role in OBJECT_GOAL_ROLES.items() if role not in columns]
    if missing:
        raise TrainerError(f"the object-goal frame needs observation fields {', '.join(missing)}")
    return columns


class ObjectGoalFrame(nn.Module):
    """The planar scene in the task's own frame: origin at the object, axis u from the object toward the goal and n
    = u turned by +90°. Features: the effector's offset from the object along u and n (s, l), the object-to-goal
    distance d, and the effector's velocity along u and n. The same scene shifted or rotated on the table gives the
    same features, and the command is predicted along u and n and turned back, so one demonstration teaches every
    shifted and rotated copy of itself (a canonicalized, SE(2)-equivariant policy). The table's walls break the
    symmetry near the edges: the network does not see them.

    With a goal horizon h the distance feature is min(d, h): a goal farther than h looks like one at h, so a
    demonstration that started its push h or more from the goal also covers goals farther away than any it saw (one
    demonstration from 0.23 m parks behind the block when the pad is 0.4 m away; docs/learning.md). The direction u
    is unchanged."""

    FEATURES = 5

    def __init__(self, columns: dict[str, int], obs_mean: np.ndarray, obs_std: np.ndarray, goal_horizon: float | None = None):
        super().__init__()
        if goal_horizon is not None and not goal_horizon > 0:
            raise TrainerError(f"the goal horizon must be > 0 m, got {goal_horizon}")
        self.goal_horizon = goal_horizon
        if goal_horizon is not None:
            self.register_buffer("horizon", torch.tensor([goal_horizon], dtype=torch.float32))
        self.columns = columns
        self.register_buffer("obs_mean", torch.as_tensor(obs_mean, dtype=torch.float32))
        self.register_buffer("obs_std", torch.as_tensor(obs_std, dtype=torch.float32))

    def forward(self, observation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raw = observation * self.obs_std + self.obs_mean
        c = self.columns
        effector, velocity = raw[:, c["effector"] : c["effector"] + 2], raw[:, c["velocity"] : c["velocity"] + 2]
        obj, goal = raw[:, c["object"] : c["object"] + 2], raw[:, c["goal"] : c["goal"] + 2]
        to_goal = goal - obj
        distance = torch.sqrt((to_goal * to_goal).sum(dim=1, keepdim=True) + 1e-8)  # smooth at the goal
        u = to_goal / distance
        n = torch.cat([-u[:, 1:2], u[:, 0:1]], dim=1)
        offset = effector - obj
        seen = distance if self.goal_horizon is None else torch.minimum(distance, self.horizon)
        features = torch.cat([
            (offset * u).sum(dim=1, keepdim=True), (offset * n).sum(dim=1, keepdim=True), seen,
            (velocity * u).sum(dim=1, keepdim=True), (velocity * n).sum(dim=1, keepdim=True),
        ], dim=1)
        return features, u, n


class Policy(nn.Module):
    """An MLP from the normalized observation to a chunk of normalized actions. With a frame, the MLP reads the
    frame's features (normalized by feature_mean/feature_std) and predicts each 2-D command along u and n in units
    of action_scale; the command is turned back onto the table and normalized like any other policy's output."""

    def __init__(self, obs_dim: int, act_dim: int, chunk: int, hidden: int, layers: int, frame: ObjectGoalFrame | None = None):
        super().__init__()
        self.chunk, self.act_dim, self.hidden, self.layers = chunk, act_dim, hidden, layers
        self.frame = frame
        if frame is not None and act_dim != 2:
            raise TrainerError(f"the object-goal frame turns 2-D commands; this policy has {act_dim} joints")
        widths = [frame.FEATURES if frame is not None else obs_dim] + [hidden] * layers
        body: list[nn.Module] = []
        for width_in, width_out in zip(widths, widths[1:]):
            body += [nn.Linear(width_in, width_out), nn.ReLU()]
        self.net = nn.Sequential(*body, nn.Linear(widths[-1], chunk * act_dim))
        if frame is not None:
            self.register_buffer("feature_mean", torch.zeros(frame.FEATURES))
            self.register_buffer("feature_std", torch.ones(frame.FEATURES))
            self.register_buffer("action_mean", torch.zeros(act_dim))
            self.register_buffer("action_std", torch.ones(act_dim))
            self.register_buffer("action_scale", torch.ones(()))

    def set_frame_statistics(self, observations: torch.Tensor, act_mean: np.ndarray, act_std: np.ndarray) -> None:
        """Feature statistics from the (normalized) training observations, and the action statistics the robot
        denormalizes with; action_scale, their mean std, keeps the MLP's targets near unit size."""
        assert self.frame is not None
        with torch.no_grad():
            features, _, _ = self.frame(observations)
            self.feature_mean.copy_(features.mean(dim=0))
            self.feature_std.copy_(torch.clamp(features.std(dim=0), min=STD_FLOOR))
            self.action_mean.copy_(torch.as_tensor(act_mean))
            self.action_std.copy_(torch.as_tensor(act_std))
            self.action_scale.copy_(torch.as_tensor(float(np.mean(act_std))))

    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        if self.frame is None:
            # A constant target shape keeps the exported graph to one Reshape with a fixed [-1, chunk, act_dim].
            return self.net(observation).reshape(-1, self.chunk, self.act_dim)
        features, u, n = self.frame(observation)
        along = self.net((features - self.feature_mean) / self.feature_std).reshape(-1, self.chunk, 2)
        command = (along[:, :, 0:1] * u[:, None, :] + along[:, :, 1:2] * n[:, None, :]) * self.action_scale
        return (command - self.action_mean) / self.action_std

    def architecture(self) -> dict[str, typing.Any]:
        """policy.json's training.architecture: what load_policy rebuilds the module from."""
        spec: dict[str, typing.Any] = {"kind": "mlp", "hidden": self.hidden, "layers": self.layers, "frame": "none"}
        if self.frame is not None:
            spec.update({
                "frame": "object-goal", "feature_mean": self.feature_mean.tolist(), "feature_std": self.feature_std.tolist(),
                "action_scale": float(self.action_scale),
            })
            if self.frame.goal_horizon is not None:
                spec["goal_horizon"] = self.frame.goal_horizon
        return spec


class Ensemble(nn.Module):
    """The mean of several policies of one architecture and one normalization, exported as one graph that the robot
    runs like any other policy. Members fitted to the same few episodes with their own batches agree where the data
    is dense and differ where it is thin; their mean depends less on any one fit (a demonstration and 9 successes
    cloned with three seeds scored 29–57% on the held-out seeds, one graph of their mean 50.5%: docs/learning.md)."""

    def __init__(self, members: list[Policy]):
        super().__init__()
        if len(members) < 2:
            raise TrainerError(f"an ensemble needs at least 2 members, got {len(members)}")
        if any(m.architecture() != members[0].architecture() for m in members[1:]):
            raise TrainerError("an ensemble's members must have one architecture (widths, frame and its statistics)")
        self.members = nn.ModuleList(members)
        self.chunk, self.act_dim = members[0].chunk, members[0].act_dim

    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        total = self.members[0](observation)
        for member in list(self.members)[1:]:
            total = total + member(observation)
        return total * (1.0 / len(self.members))

    def architecture(self) -> dict[str, typing.Any]:
        """The members' architecture (policy.json's training.architecture) and how many there are."""
        return {**self.members[0].architecture(), "ensemble": len(self.members)}


def frame_policy(
    fields: list[dict[str, typing.Any]], obs_mean: np.ndarray, obs_std: np.ndarray, act_dim: int, chunk: int, hidden: int, layers: int,
    goal_horizon: float | None = None,
) -> Policy:
    frame = ObjectGoalFrame(frame_columns(fields), obs_mean, obs_std, goal_horizon)
    return Policy(int(len(obs_mean)), act_dim, chunk, hidden, layers, frame)


def mean_loss(policy: Policy | Ensemble, observations: torch.Tensor, targets: torch.Tensor, batch: int = 8192) -> float:
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


def export_onnx(policy: Policy | Ensemble, obs_dim: int) -> bytes:
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


def verify_onnx(model_bytes: bytes, policy: Policy | Ensemble, obs_dim: int, chunk: int, act_dim: int) -> str:
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
    if got[0].shape != want.shape or not np.allclose(got[0], want, rtol=1e-4, atol=1e-5):
        raise RuntimeError(f"ONNX output differs from torch (max abs difference {np.abs(got[0] - want).max()})")
    return method


# ---------------------------------------------------------------------------------------------------------------
# policy.json


def policy_metadata(
    *, name: str, version: str, task: str, created: str, sha256: str, obs_dim: int, act_dim: int, chunk: int,
    meta: dict[str, typing.Any], obs_mean: np.ndarray, obs_std: np.ndarray, act_mean: np.ndarray,
    act_std: np.ndarray, training: dict[str, typing.Any], architecture: dict[str, typing.Any] | None = None,
) -> dict[str, typing.Any]:
    """policy.json; `architecture` (Policy.architecture()) goes into training.architecture for the next trainer."""
    if architecture is not None:
        training = {**training, "architecture": architecture}
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


