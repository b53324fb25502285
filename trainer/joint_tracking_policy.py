"""Writes the joint-tracking demo policy for examples/serial-sim.yaml: not trained, a PD law toward a fixed pose,
velocity = K·(pose − position) − D·velocity, written as one linear ONNX layer with Striatum policy metadata.

    /usr/bin/python3 trainer/joint_tracking_policy.py --out models/joint-tracking
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

JOINTS = ["base", "shoulder", "elbow", "wrist_pitch", "wrist_roll", "gripper"]
POSE = [0.5, -0.4, 0.9, 0.3, -1.0, 0.4]


def build(k: float, d: float) -> onnx.ModelProto:
    n = len(JOINTS)
    w = np.zeros((2 * n, n), dtype=np.float32)
    for j in range(n):
        w[j, j] = -k  # position term
        w[n + j, j] = -d  # velocity (damping) term
    b = (k * np.asarray(POSE, dtype=np.float32)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["observation", "W", "b"], ["flat"]),
            helper.make_node("Reshape", ["flat", "shape"], ["action"]),
        ],
        "joint_tracking_pd",
        [helper.make_tensor_value_info("observation", TensorProto.FLOAT, ["batch", 2 * n])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", 1, n])],
        [
            numpy_helper.from_array(w, "W"),
            numpy_helper.from_array(b, "b"),
            numpy_helper.from_array(np.asarray([-1, 1, n], dtype=np.int64), "shape"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="striatum")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="models/joint-tracking", help="output directory")
    parser.add_argument("--k", type=float, default=3.0, help="position gain, 1/s")
    parser.add_argument("--d", type=float, default=0.1, help="velocity damping, dimensionless")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = build(args.k, args.d).SerializeToString()
    (out / "policy.onnx").write_bytes(data)
    n = len(JOINTS)
    meta = {
        "format": "striatum.policy/v1",
        "name": "joint-tracking-pd",
        "version": "pd-1",
        "task": "joint-tracking",
        "model": "policy.onnx",
        "sha256": hashlib.sha256(data).hexdigest(),
        "inputs": [{"name": "observation", "shape": [-1, 2 * n], "dtype": "float32"}],
        "outputs": [{"name": "action", "shape": [-1, 1, n], "dtype": "float32"}],
        "observation": {"fields": [{"name": "joint_positions", "size": n}, {"name": "joint_velocities", "size": n}]},
        "action": {"mode": "velocity", "joints": JOINTS, "chunk": 1},
        "training": {"algorithm": "none: PD law toward a fixed pose", "pose": POSE, "k": args.k, "d": args.d},
    }
    (out / "policy.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps({"event": "done", "model": str(out / "policy.onnx"), "sha256": meta["sha256"]}))


if __name__ == "__main__":
    main()
