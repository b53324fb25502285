#!/bin/bash
# Parameter-space exploration, pooled: each of N training episodes runs its own weight-perturbed copy of the base
# (perturb.py), the successful ones (the simulator's verdict) and the demonstration are cloned afresh in the
# object-goal frame (trainer/bc.py, the models/push-bc-one recipe) and the clone is evaluated on the 200 held-out
# seeds. One JSON line.
#
#   bash bench/param-noise/pool-and-clone.sh WORKDIR [episodes=100] [alpha=0.1] [first_seed=2000000] [noise_seed=11] [bc_seed=1] [velocity_noise=0]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$1; n=${2:-100}; alpha=${3:-0.1}; first=${4:-2000000}; noise=${5:-11}; bc_seed=${6:-1}; velocity_noise=${7:-0}
mkdir -p "$work"; cd "$root"
/usr/bin/python3 bench/param-noise/perturb.py --base models/push-bc-one --out "$work/pert" --n "$n" --alpha "$alpha" --seed "$noise"
record() { node dist/src/cli/main.js record --source policy --model "$work/pert/$1/policy.onnx" --episodes 1 --seed $((first + $1)) --out "$work/rec/$1" --force > /dev/null 2>&1; }
for ((i = 0; i < n; i += 2)); do record $i & if ((i + 1 < n)); then record $((i + 1)) & fi; wait; done
rm -rf "$work/data" "$work/clone"
kept=$(/usr/bin/python3 bench/param-noise/merge.py "$work/data" data/push-demo1 $(for ((i = 0; i < n; i++)); do echo "$work/rec/$i"; done))
/usr/bin/python3 trainer/bc.py --data "$work/data" --out "$work/clone" --epochs 400 --val-fraction 0 --frame object-goal \
  --threads 1 --seed "$bc_seed" --velocity-noise "$velocity_noise" --name pooled --version pooled > /dev/null
held_out=$(node dist/src/cli/main.js eval --model "$work/clone/policy.onnx" --episodes 200 --seed 9000000 2> /dev/null | tail -1)
echo "{\"episodes\": $n, \"alpha\": $alpha, \"first_seed\": $first, \"noise_seed\": $noise, \"bc_seed\": $bc_seed, \"velocity_noise\": $velocity_noise, \"kept\": $kept, \"held_out\": $held_out}"
