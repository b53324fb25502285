"""A numpy evaluator for the ONNX graphs the trainers export, op by op (float64 inside, so it also checks torch's
float32 numbers). onnx.reference is not in Debian's onnx (1.12), and onnxruntime is not packaged for Python here; the
robot runs the same graphs in onnxruntime-node.
"""

from __future__ import annotations

import typing

import common
import numpy as np
import onnx
import onnx.numpy_helper


def _pads(x: np.ndarray, pads: list[int], value: float = 0.0) -> np.ndarray:
    half = len(pads) // 2
    return np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + half]) for i in range(half)], constant_values=value)


def _windows(x: np.ndarray, kernel: tuple[int, int], strides: list[int]) -> np.ndarray:
    """[N, C, OH, OW, KH, KW] strided view of a padded NCHW array."""
    n, c, h, w = x.shape
    kh, kw = kernel
    oh, ow = (h - kh) // strides[0] + 1, (w - kw) // strides[1] + 1
    s = x.strides
    return np.lib.stride_tricks.as_strided(
        x, (n, c, oh, ow, kh, kw), (s[0], s[1], s[2] * strides[0], s[3] * strides[1], s[2], s[3]), writeable=False
    )


def run_numpy(model: onnx.ModelProto, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Evaluate the graph with numpy, op by op (float64 inside, so it also checks torch's float32 numbers)."""
    values: dict[str, typing.Any] = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    values.update(inputs)
    dtypes = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.INT64: np.int64, onnx.TensorProto.UINT8: np.uint8,
              onnx.TensorProto.BOOL: np.bool_, onnx.TensorProto.DOUBLE: np.float64, onnx.TensorProto.INT32: np.int32}
    for node in model.graph.node:
        a = {attr.name: onnx.helper.get_attribute_value(attr) for attr in node.attribute}
        x = [values[name] if name else None for name in node.input]
        op = node.op_type
        if op == "Constant":
            y = onnx.numpy_helper.to_array(a["value"])
        elif op == "Identity":
            y = x[0]
        elif op == "Cast":
            y = x[0].astype(dtypes[a["to"]])
        elif op in ("Add", "Sub", "Mul", "Div", "Equal"):
            y = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Equal": np.equal}[op](x[0], x[1])
        elif op in ("Min", "Max"):  # variadic, broadcasting
            y = x[0]
            for other in x[1:]:
                y = (np.minimum if op == "Min" else np.maximum)(y, other)
        elif op == "Neg":
            y = np.negative(x[0])
        elif op == "Sqrt":
            y = np.sqrt(x[0])
        elif op == "Slice":
            axes = range(len(x[1])) if len(x) < 4 or x[3] is None else [int(v) for v in x[3]]
            steps = [1] * len(x[1]) if len(x) < 5 or x[4] is None else [int(v) for v in x[4]]
            index = [slice(None)] * x[0].ndim
            for axis, start, stop, step in zip(axes, x[1], x[2], steps):
                index[axis] = slice(int(start), int(stop), step)
            y = x[0][tuple(index)]
        elif op == "Not":
            y = np.logical_not(x[0])
        elif op == "Round":
            y = np.round(x[0])  # half to even, as ONNX and torch
        elif op == "Relu":
            y = np.maximum(x[0], 0)
        elif op == "Tanh":
            y = np.tanh(x[0])
        elif op == "Sigmoid":
            y = 1 / (1 + np.exp(-x[0]))
        elif op == "Softmax":
            axis = a.get("axis", -1)
            e = np.exp(x[0] - x[0].max(axis=axis, keepdims=True))
            y = e / e.sum(axis=axis, keepdims=True)
        elif op == "Clip":
            lo = x[1] if len(x) > 1 and x[1] is not None else -np.inf
            hi = x[2] if len(x) > 2 and x[2] is not None else np.inf
            y = np.clip(x[0], lo, hi)
        elif op == "Pad":
            if a.get("mode", b"constant") not in (b"constant", "constant"):
                raise common.TrainerError("numpy check: only constant Pad is supported")
            pads = [int(v) for v in x[1]]
            half = len(pads) // 2
            fill = x[2] if len(x) > 2 and x[2] is not None else 0
            y = np.pad(x[0], [(pads[i], pads[i + half]) for i in range(half)], constant_values=fill)
        elif op == "Transpose":
            y = np.transpose(x[0], a.get("perm"))
        elif op == "Reshape":
            shape = [d if d != 0 or a.get("allowzero", 0) else x[0].shape[i] for i, d in enumerate(x[1])]
            y = x[0].reshape(shape)
        elif op == "Flatten":
            axis = a.get("axis", 1)
            y = x[0].reshape(int(np.prod(x[0].shape[:axis])), -1)
        elif op == "Unsqueeze":
            y = x[0]
            for axis in sorted(int(v) % (x[0].ndim + len(x[1])) for v in x[1]):
                y = np.expand_dims(y, axis)
        elif op == "Concat":
            y = np.concatenate(x, axis=a["axis"])
        elif op == "Gather":
            y = np.take(x[0], x[1], axis=a.get("axis", 0))
        elif op == "ReduceSum":
            axes = None if len(x) < 2 or x[1] is None else tuple(int(v) for v in x[1])
            y = x[0].sum(axis=axes, keepdims=bool(a.get("keepdims", 1)))
        elif op in ("Gemm", "MatMul"):
            left = x[0].T if a.get("transA", 0) else x[0]
            right = x[1].T if a.get("transB", 0) else x[1]
            y = a.get("alpha", 1.0) * (left.astype(np.float64) @ right)
            if op == "Gemm" and len(x) > 2 and x[2] is not None:
                y = y + a.get("beta", 1.0) * x[2]
        elif op == "Conv":
            if a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1, 1])):
                raise common.TrainerError("numpy check: grouped or dilated Conv is not supported")
            w = x[1]
            patches = _windows(_pads(x[0], a.get("pads", [0, 0, 0, 0])), w.shape[2:], a.get("strides", [1, 1]))
            y = np.einsum("nchwij,ocij->nohw", patches, w.astype(np.float64), optimize=True)
            if len(x) > 2 and x[2] is not None:
                y = y + x[2][None, :, None, None]
        elif op == "AveragePool":
            if a.get("ceil_mode", 0) or any(a.get("pads", [0, 0, 0, 0])):
                raise common.TrainerError("numpy check: padded AveragePool is not supported")
            y = _windows(x[0], tuple(a["kernel_shape"]), a.get("strides", [1, 1])).mean(axis=(4, 5))
        else:
            raise common.TrainerError(f"numpy check: op {op} is not supported; extend run_numpy")
        values[node.output[0]] = y
    return [values[output.name] for output in model.graph.output]


def graph_shape(value: onnx.ValueInfoProto) -> list[int]:
    """A graph input's or output's shape, -1 for a dynamic dimension."""
    return [d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim]
