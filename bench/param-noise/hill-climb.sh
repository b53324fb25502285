#!/bin/bash
# Parameter-space exploration as hill climbing: each round runs P weight-perturbed copies of the current policy
# (perturb.py) for E training episodes each, moves to the copy with the most successes (the simulator's verdict;
# ties by summed final progress) and evaluates it on the 200 held-out seeds. One JSON line per round. With
# elitist=1 the current policy runs E episodes of its own each round (they count) and is kept unless a copy has
# more successes. With fitness=graded a copy scores the mean over its episodes of 1 for a success and the final
# progress otherwise (the simulator's, standing in for the reward models' return). With keep=k > 1 the next policy
# is the current one plus the mean noise of the k best copies (an evolution strategy's recombination).
#
#   bash bench/param-noise/hill-climb.sh WORKDIR [rounds=4] [population=8] [episodes_each=3] [alpha=0.1] [first_seed=2000000] [noise_seed=300] [elitist=0] [fitness=successes|graded] [keep=1]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$1; rounds=${2:-4}; pop=${3:-8}; each=${4:-3}; alpha=${5:-0.1}; first=${6:-2000000}; noise=${7:-300}; elitist=${8:-0}; fitness=${9:-successes}; keep=${10:-1}
mkdir -p "$work"; cd "$root"
current=models/push-bc-one; seed=$first
for ((r = 0; r < rounds; r++)); do
  /usr/bin/python3 bench/param-noise/perturb.py --base "$current" --out "$work/p$r" --n "$pop" --alpha "$alpha" --seed $((noise + r))
  if ((elitist)); then mkdir -p "$work/p$r/$pop"; cp "$current/policy.onnx" "$current/policy.json" "$work/p$r/$pop/"; fi
  candidates=$((pop + elitist))
  record() { node dist/src/cli/main.js record --source policy --model "$work/p$r/$1/policy.onnx" --episodes "$each" --seed $((seed + $1 * each)) --out "$work/r$r/$1" --force > /dev/null 2>&1; }
  for ((i = 0; i < candidates; i += 2)); do record $i & if ((i + 1 < candidates)); then record $((i + 1)) & fi; wait; done
  seed=$((seed + candidates * each))
  best=$(/usr/bin/python3 -c '
import json, sys
work, r, pop, elitist, graded = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "graded"
def fitness(i):
    eps = json.load(open(f"{work}/r{r}/{i}/meta.json"))["episodes"]
    if graded:
        return (round(sum(1.0 if e["success"] else e["final_progress"] for e in eps), 6), 0)
    return (sum(e["success"] for e in eps), sum(e["final_progress"] for e in eps))
keep = int(sys.argv[6])
ranked = sorted(range(pop), key=fitness, reverse=True)
i = ranked[0]
if elitist and fitness(i)[0] <= fitness(pop)[0]:
    i = pop
print(",".join(map(str, ranked[:keep])) if keep > 1 else i, fitness(i)[0])' "$work" "$r" "$pop" "$elitist" "$fitness" "$keep")
  if ((keep > 1)); then
    /usr/bin/python3 bench/param-noise/perturb.py --base "$current" --out "$work/c$r" --n 0 --alpha "$alpha" --seed $((noise + r)) --combine "${best% *}"
    current="$work/c$r"
  else
    current="$work/p$r/${best% *}"
  fi
  held_out=$(node dist/src/cli/main.js eval --model "$current/policy.onnx" --episodes 200 --seed 9000000 2> /dev/null | tail -1)
  echo "{\"round\": $r, \"episodes\": $((seed - first)), \"best\": \"${best% *}\", \"best_successes\": ${best#* }, \"of\": $each, \"held_out\": $held_out}"
done
