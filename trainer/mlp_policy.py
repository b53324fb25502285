"""The policy bc.py trains and awr.py improves: an MLP from a normalized observation to a chunk of normalized
actions, its training targets and statistics, its ONNX export and check, and the policy.json it ships with
(striatum.policy/v1, validated by src/policy/metadata.ts on the robot).
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

from common import episode_bounds

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
# policy.json


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


