"""Concatenate the successful episodes of several `striatum record` folders into one that trainer/bc.py reads.

    /usr/bin/python3 bench/param-noise/merge.py OUT data/push-demo1 /tmp/rec/0 /tmp/rec/1 ...

Success is the simulator's verdict in each meta.json: these experiments measure what an exploration scheme can
find at best, not what the success model confirms.
"""

import json
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    observations, actions, index, episodes = [], [], [], []
    first_meta = None
    for folder in map(Path, sys.argv[2:]):
        meta = json.loads((folder / "meta.json").read_text())
        first_meta = first_meta or meta
        obs, act, ep = (np.load(folder / name) for name in ("observations.npy", "actions.npy", "episode_index.npy"))
        for episode in meta["episodes"]:
            if not episode["success"]:
                continue
            rows = ep == episode["index"]
            k = len(episodes)
            observations.append(obs[rows])
            actions.append(act[rows])
            index.append(np.full(int(rows.sum()), k, np.int32))
            episodes.append({**episode, "index": k, "steps": int(rows.sum())})
    np.save(out / "observations.npy", np.concatenate(observations))
    np.save(out / "actions.npy", np.concatenate(actions))
    np.save(out / "episode_index.npy", np.concatenate(index))
    (out / "meta.json").write_text(json.dumps({**first_meta, "episodes": episodes}, indent=1))
    print(json.dumps({"episodes": len(episodes), "steps": sum(e["steps"] for e in episodes)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
