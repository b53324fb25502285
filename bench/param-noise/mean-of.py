"""Write one policy whose output is the mean of several bc.py policies of one architecture and normalization (clones
of the same data with different --seed), as trainer/filtered_bc.py --ensemble releases it (mlp_policy.Ensemble).

    /usr/bin/python3 bench/param-noise/mean-of.py OUT /tmp/clone-s1 /tmp/clone-s2 /tmp/clone-s3

Writes OUT/policy.onnx and policy.json (the first policy's metadata with the new sha256, version mean-of-<n> and
training.architecture.ensemble), which `striatum eval --model` runs.
"""

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "trainer"))
import common  # noqa: E402,F401  (first: it sets OMP_WAIT_POLICY before torch loads)
import mlp_policy  # noqa: E402
from awr import load_policy_weights  # noqa: E402


def main() -> int:
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    out, sources = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
    metas = [json.loads((d / "policy.json").read_text()) for d in sources]
    for d, meta in zip(sources[1:], metas[1:]):
        if meta["observation"] != metas[0]["observation"] or meta["action"] != metas[0]["action"]:
            print(f"mean-of.py: {d} is normalized differently from {sources[0]}: clone the same data", file=sys.stderr)
            return 2
    members = [load_policy_weights(d / m.get("model", "policy.onnx"), m) for d, m in zip(sources, metas)]
    ensemble = mlp_policy.Ensemble(members)  # refuses members of different architectures or frame statistics
    obs_dim = metas[0]["inputs"][0]["shape"][1]
    model = mlp_policy.export_onnx(ensemble, obs_dim)
    mlp_policy.verify_onnx(model, ensemble, obs_dim, ensemble.chunk, ensemble.act_dim)
    training = {**metas[0].get("training", {}), "architecture": ensemble.architecture()}
    meta = {**metas[0], "sha256": hashlib.sha256(model).hexdigest(), "version": f"mean-of-{len(members)}", "training": training}
    out.mkdir(parents=True, exist_ok=True)
    (out / "policy.onnx").write_bytes(model)
    (out / "policy.json").write_text(json.dumps(meta, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
