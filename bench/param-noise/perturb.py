"""Write N copies of a policy with Gaussian noise on every weight and bias (parameter-space exploration, Plappert et
al. 2018): tensor t gets alpha * std(t) * N(0, 1), copy i from its own seed (seed * 100000 + i).

    /usr/bin/python3 bench/param-noise/perturb.py --base models/push-bc-one --out /tmp/pert --n 8 --alpha 0.1 --seed 1

Writes OUT/<i>/policy.onnx and policy.json (the base's metadata with the new sha256 and version pert-<seed>-<i>),
which `striatum record --source policy --model` and `striatum eval --model` run.
"""

import argparse
import copy
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "trainer"))
import common  # noqa: E402,F401  (first: it sets OMP_WAIT_POLICY before torch loads)
import mlp_policy  # noqa: E402
import torch  # noqa: E402
from awr import load_policy_weights  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="policy directory (policy.onnx, policy.json)")
    parser.add_argument("--out", required=True, help="directory for the copies")
    parser.add_argument("--n", type=int, required=True, help="number of copies")
    parser.add_argument("--alpha", type=float, default=0.1, help="noise std relative to each tensor's std")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    base = Path(args.base)
    parent = json.loads((base / "policy.json").read_text())
    policy = load_policy_weights(base / parent.get("model", "policy.onnx"), parent)
    obs_dim = parent["inputs"][0]["shape"][1]
    for i in range(args.n):
        generator = torch.Generator().manual_seed(args.seed * 100000 + i)
        copy_i = copy.deepcopy(policy)
        with torch.no_grad():
            for tensor in copy_i.net.parameters():
                scale = tensor.std() if tensor.numel() > 1 else tensor.abs()
                tensor.add_(args.alpha * scale * torch.randn(tensor.shape, generator=generator))
        model = mlp_policy.export_onnx(copy_i, obs_dim)
        out = Path(args.out) / str(i)
        out.mkdir(parents=True, exist_ok=True)
        (out / "policy.onnx").write_bytes(model)
        meta = {**parent, "sha256": hashlib.sha256(model).hexdigest(), "version": f"pert-{args.seed}-{i}"}
        (out / "policy.json").write_text(json.dumps(meta, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
