"""Write N copies of a policy with Gaussian noise on every weight and bias (parameter-space exploration, Plappert et
al. 2018): tensor t gets alpha * std(t) * N(0, 1), copy i from its own seed (seed * 100000 + i).

    /usr/bin/python3 bench/param-noise/perturb.py --base models/push-bc-one --out /tmp/pert --n 8 --alpha 0.1 --seed 1

Writes OUT/<i>/policy.onnx and policy.json (the base's metadata with the new sha256 and version pert-<seed>-<i>),
which `striatum record --source policy --model` and `striatum eval --model` run. With --combine i,j,... it writes
one policy to OUT instead: the base plus the mean of those copies' noise (the recombination step of an evolution
strategy; the copies are regenerated from the same seeds).
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
    parser.add_argument("--combine", default="", help="comma-separated copy indices: write base + their mean noise to OUT")
    args = parser.parse_args()
    base = Path(args.base)
    parent = json.loads((base / "policy.json").read_text())
    policy = load_policy_weights(base / parent.get("model", "policy.onnx"), parent)
    obs_dim = parent["inputs"][0]["shape"][1]
    base_tensors = [t.detach().clone() for t in policy.net.parameters()]

    def noise(i: int) -> list[torch.Tensor]:
        generator = torch.Generator().manual_seed(args.seed * 100000 + i)
        return [args.alpha * (t.std() if t.numel() > 1 else t.abs()) * torch.randn(t.shape, generator=generator) for t in base_tensors]

    def write(deltas: list[torch.Tensor], out: Path, version: str) -> None:
        copy_i = copy.deepcopy(policy)
        with torch.no_grad():
            for tensor, delta in zip(copy_i.net.parameters(), deltas):
                tensor.add_(delta)
        model = mlp_policy.export_onnx(copy_i, obs_dim)
        out.mkdir(parents=True, exist_ok=True)
        (out / "policy.onnx").write_bytes(model)
        meta = {**parent, "sha256": hashlib.sha256(model).hexdigest(), "version": version}
        (out / "policy.json").write_text(json.dumps(meta, indent=1))

    if args.combine:
        chosen = [int(i) for i in args.combine.split(",")]
        noises = [noise(i) for i in chosen]
        write([sum(parts) / len(parts) for parts in zip(*noises)], Path(args.out), f"comb-{args.seed}-{args.combine.replace(',', '.')}")
        return 0
    for i in range(args.n):
        write(noise(i), Path(args.out) / str(i), f"pert-{args.seed}-{i}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
