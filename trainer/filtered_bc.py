"""Success-filtered behaviour cloning: one round of a learner that compounds on the success reward model's verdicts.

Each round reads the updater's training snapshot (the demonstrations, recorded through the same reward models, and
the robot's own experience), keeps the demonstrations and every robot episode that ended in a true terminal (in
learning mode: the success model's done rule said success, which is also the only step that earns r_gold), adds
the task's symmetric copies of them (--symmetry), and continues the policy the robots run now, with its Adam state
from the learner state on disk (--state), for --updates gradient steps of mean squared error on the commands those
episodes wrote. Failed episodes teach nothing here: the reward decides which experience is imitated. A round in
which fewer than --min-kept robot episodes are kept writes no model and prints {"event": "skipped", "reason": …}
(exit status 0).

    /usr/bin/python3 trainer/filtered_bc.py --data SNAPSHOT --base models/push-bc-few --out OUT --state STATE

Choices (documented here once):
- Filter: an episode is kept when its last row is a true terminal. Its PRM-only return is then the highest a
  stored episode can have (γ^T·R − Φ(s0) against γ^T·V for a time-limit cut), so this is return-filtered
  regression (%BC, RWR with a step weight) at the success threshold. Demonstrations are kept whatever the verdict.
- Batches: --demo-fraction of each batch from the demonstrations and the rest from the kept robot episodes
  (RLPD's 50/50), so the clean demonstrations keep their pull however much robot data piles up.
- Targets: the commands the robot wrote (after its safety filter and exploration noise): what it did in the
  episodes that worked.
- Normalization: the parent's observation and action statistics, kept (the robot denormalizes with policy.json).
- Learning rate: cosine from --lr to --lr/10 within each round; Adam's moments continue between rounds when the
  robots still run the version the state was saved with.
- Ensemble (--ensemble E > 1): E copies of the MLP, each drawing its own batches, released as one graph that
  outputs their mean (mlp_policy.Ensemble). A first round from a single MLP starts every member from it; the batch
  order alone then sets them apart. Each member gets --updates gradient steps, so a round costs E times the time.
- The state is written atomically after the model, so an updater restart resumes where the last round ended.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import hashlib
import json
import sys
import time
import typing
from dataclasses import dataclass
from pathlib import Path

import common  # first: it sets OMP_WAIT_POLICY before torch loads
import mlp_policy
import numpy as np
import torch
import torch.nn as nn
from awr import load_policy_weights, load_snapshot
from common import TrainerError, episode_bounds
from sac_rlpd import load_state, mixed_batch, save_state

STATE_FILE = "learner.npz"
STATE_FORMAT = "striatum.filtered-bc-state/v1"


@dataclass
class Args:
    data: str
    """training snapshot directory written by the updater"""
    base: str
    """directory of the policy the robots run now (policy.onnx, policy.json): the round continues from it"""
    out: str
    """output directory for policy.onnx, policy.json and policy.card.md"""
    state: str
    """learner state directory (the optimiser's moments, rounds), kept between rounds and restarts"""
    demo_version: str = "scripted"
    """episodes whose only policy version is this are demonstrations (kept whatever their verdict)"""
    demo_fraction: float = 0.5
    """share of each batch drawn from the demonstrations (RLPD's symmetric sampling), the rest from kept robot
    episodes; all from the one that is not empty when the other is"""
    updates: int = 6000
    """gradient steps per round"""
    batch_size: int = 256
    """transitions per gradient step"""
    lr: float = 1e-3
    """learning rate at the start of each round (cosine down to a tenth of it)"""
    progress_horizon: int = 0
    """steps: also imitate the robot steps after which the progress model saw at least --progress-min more progress
    within this many steps, in any episode (progress.npy); 0: whole successful episodes only"""
    progress_min: float = 0.05
    """progress (0–1, the progress model's scale) a step must be followed by within --progress-horizon steps"""
    min_kept: int = 1
    """skip the round (no model, {"event": "skipped"}) when fewer robot episodes than this are kept and no progress
    step is; 0 always trains, on the demonstrations alone if nothing else is kept"""
    ensemble: int = 1
    """members trained side by side on the same kept episodes, each on its own batches, released as one graph that
    outputs their mean; 1: one MLP. A round continues an ensemble of the same size, or starts one from a single MLP"""
    tail_steps: int = 0
    """imitate only the last this many steps of each kept robot episode (the approach and push that ended in the
    success verdict, without the stalls and detours before it); 0: the whole episode. Demonstrations stay whole"""
    top_fraction: float = 1.0
    """imitate only this fraction of the kept robot episodes, those with the highest PRM-only discounted return
    (rewards.npy, γ of the snapshot): the quickest pushes to a success verdict; 1: every kept episode"""
    velocity_noise: float = 0.0
    """m/s: add N(0, σ²) to the measured joint velocities of every training batch (fresh each step), so the policy
    acts on positions instead of repeating its last command; 0: off (common.velocity_noise_scale)"""
    symmetry: str = "none"
    """augment kept episodes with the task's symmetries: none, or square-d4 (see common.py)"""
    symmetry_center: float = 0.4
    """centre of the square (m) for --symmetry square-d4"""
    gamma: float = -1.0
    """discount per control step (recorded in the metadata; the filter does not need it)"""
    seed: int = 1
    """seed for python, numpy and torch and the batch draws"""
    threads: int = 2
    """CPU threads for torch and OpenBLAS"""
    name: str = ""
    """policy name in the metadata; empty means the parent's name"""
    version: str = ""
    """policy version in the metadata; empty means 'fbc-<round>-YYYYmmddHHMMSS' (UTC)"""


def parse_args(argv: list[str] | None = None) -> Args:
    parsed = common.dataclass_parser(Args, "filtered_bc.py", (__doc__ or "").splitlines()[0]).parse_args(argv)
    args = Args(**vars(parsed))
    for name in ("progress_horizon", "tail_steps", "min_kept"):
        if getattr(args, name) < 0:
            raise SystemExit(f"filtered_bc.py: error: --{name.replace('_', '-')} must be 0 or more")
    for name in ("updates", "batch_size", "threads", "ensemble"):
        if getattr(args, name) < 1:
            raise SystemExit(f"filtered_bc.py: error: --{name.replace('_', '-')} must be at least 1")
    if not args.lr > 0:
        raise SystemExit("filtered_bc.py: error: --lr must be positive")
    if not 0 <= args.velocity_noise < 1:
        raise SystemExit("filtered_bc.py: error: --velocity-noise must be in [0, 1) m/s")
    if not 0 < args.top_fraction <= 1:
        raise SystemExit("filtered_bc.py: error: --top-fraction must be in (0, 1]")
    if not 0 <= args.demo_fraction <= 1:
        raise SystemExit("filtered_bc.py: error: --demo-fraction must be in [0, 1]")
    if args.symmetry not in common.SYMMETRIES:
        raise SystemExit(f"filtered_bc.py: error: --symmetry must be one of {', '.join(common.SYMMETRIES)}")
    return args


# ---------------------------------------------------------------------------------------------------------------
# The filter. No I/O, tested directly (trainer/tests/test_filtered_bc.py).


def kept_rows(episode_index: np.ndarray, terminals: np.ndarray, demo_episodes: set[int], tail_steps: int = 0) -> tuple[np.ndarray, list[int]]:
    """Row mask of the episodes to imitate (demonstrations, and episodes whose last row is a true terminal; of
    those robot episodes only the last `tail_steps` rows when it is above 0), and the kept robot episodes' indices."""
    starts, ends = episode_bounds(episode_index)
    keep = np.zeros(len(episode_index), dtype=bool)
    robot_kept: list[int] = []
    for start, end in zip(starts, ends):
        episode = int(episode_index[start])
        if episode in demo_episodes:
            keep[start:end] = True
        elif terminals[end - 1]:
            keep[max(start, end - tail_steps) if tail_steps > 0 else start : end] = True
            robot_kept.append(episode)
    return keep, robot_kept


def top_by_return(keep: np.ndarray, robot_kept: list[int], episode_index: np.ndarray, rewards: np.ndarray, gamma: float, fraction: float) -> tuple[np.ndarray, list[int]]:
    """Of the kept robot episodes, the ceil(fraction·n) with the highest discounted return Σ γ^t r_t (ties: the
    earlier episode); their rows stay in the mask, the other kept robot episodes' rows leave it. Every kept episode
    ends in the success verdict, so the return ranks them by how soon it came (γ^T) and how far they started
    (−Φ(s0) of the shaping): the cleanest pushes, as %BC keeps the best-returning share of its data."""
    if fraction >= 1 or not robot_kept:
        return keep, robot_kept
    starts, ends = episode_bounds(episode_index)
    bounds = {int(episode_index[s]): (s, e) for s, e in zip(starts, ends)}
    returns = {}
    for episode in robot_kept:
        start, end = bounds[episode]
        returns[episode] = float(np.sum(rewards[start:end].astype(np.float64) * gamma ** np.arange(end - start)))
    ranked = sorted(robot_kept, key=lambda e: -returns[e])  # stable: on a tie the earlier episode first
    best = set(ranked[: int(np.ceil(fraction * len(robot_kept)))])
    keep = keep.copy()
    for episode in robot_kept:
        if episode not in best:
            start, end = bounds[episode]
            keep[start:end] = False
    return keep, [e for e in robot_kept if e in best]


def progress_rows(progress: np.ndarray, episode_index: np.ndarray, horizon: int, minimum: float) -> np.ndarray:
    """Rows t after which the progress Φ′ rises by at least `minimum` within `horizon` steps of the same episode:
    max(Φ′_t … Φ′_{t+horizon−1}) − Φ′_{t−1} ≥ minimum, with Φ′_{t−1} = Φ′_t on an episode's first row. A step
    counts when the push it belongs to moved the block toward the goal in the progress model's eyes, whether or not
    the episode then succeeded (step-level credit from the same reward model, a hard-filtered advantage)."""
    keep = np.zeros(len(progress), dtype=bool)
    starts, ends = episode_bounds(episode_index)
    for start, end in zip(starts, ends):
        p = progress[start:end].astype(np.float64)
        before = np.concatenate([p[:1], p[:-1]])
        ahead = np.full(len(p), -np.inf)
        for k in range(horizon):  # running max of p[t … t+horizon−1], clipped at the episode's end
            ahead[: len(p) - k] = np.maximum(ahead[: len(p) - k], p[k:])
        keep[start:end] = ahead - before >= minimum - 1e-9  # a rise of exactly `minimum` counts
    return keep


# ---------------------------------------------------------------------------------------------------------------


def train(args: Args) -> None:
    started = time.perf_counter()
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    common.seed_everything(args.seed, args.threads)

    snapshot = load_snapshot(Path(args.data))
    manifest = snapshot.manifest
    base = Path(args.base)
    try:
        parent = json.loads((base / "policy.json").read_text())
    except (ValueError, OSError) as error:
        raise TrainerError(f"cannot read {base / 'policy.json'}: {error}") from None
    if parent["observation"]["fields"] != manifest["observation_fields"] or parent["action"]["joints"] != manifest["action"]["joints"]:
        raise TrainerError(f"{base / 'policy.json'} observation fields or joints differ from the snapshot's")
    if parent["action"]["chunk"] != 1:
        raise TrainerError(f"{base / 'policy.json'} predicts chunks of {parent['action']['chunk']}; filtered_bc.py trains chunk 1")
    if len(parent["outputs"]) > 1:
        raise TrainerError(f"{base} is a Gaussian policy ({parent['version']}); filtered_bc.py continues deterministic MLPs (exploration comes from the robot's scheduled log-std)")
    loaded = load_policy_weights(base / parent.get("model", "policy.onnx"), parent)
    members = list(loaded.members) if isinstance(loaded, mlp_policy.Ensemble) else [loaded]
    if len(members) == 1 and args.ensemble > 1:
        members = [copy.deepcopy(members[0]) for _ in range(args.ensemble)]
    if len(members) != args.ensemble:
        raise TrainerError(f"{base} is the mean of {len(members)} MLPs ({parent['version']}); --ensemble {args.ensemble} cannot continue it (set it to {len(members)})")
    policy: mlp_policy.Policy | mlp_policy.Ensemble = members[0] if len(members) == 1 else mlp_policy.Ensemble(members)
    obs_dim, act_dim = snapshot.observations.shape[1], snapshot.actions.shape[1]
    gamma = args.gamma if args.gamma >= 0 else float(manifest["gamma"])

    demo_episodes = {int(e["index"]) for e in manifest["episodes"] if e.get("policy_versions") == [args.demo_version]}
    keep, robot_kept = kept_rows(snapshot.episode_index, snapshot.terminals, demo_episodes, args.tail_steps)
    successes = len(robot_kept)
    keep, robot_kept = top_by_return(keep, robot_kept, snapshot.episode_index, snapshot.rewards, gamma, args.top_fraction)
    progress_kept = 0
    if args.progress_horizon > 0:
        progress_path = Path(args.data) / "progress.npy"
        if not progress_path.is_file():
            raise TrainerError(f"--progress-horizon needs {progress_path} (written by the updater since snapshots carry progress)")
        progress = common.load_array(progress_path, 1)
        if len(progress) != len(keep) or not np.isfinite(progress).all():
            raise TrainerError(f"{progress_path} has {len(progress)} rows or non-finite values; the snapshot has {len(keep)} rows")
        extra = progress_rows(progress, snapshot.episode_index, args.progress_horizon, args.progress_min) & ~keep
        extra &= ~np.isin(snapshot.episode_index, list(demo_episodes))
        progress_kept = int(extra.sum())
        keep |= extra
    if not keep.any():
        raise TrainerError(f"nothing to imitate: no demonstrations (policy version {args.demo_version!r}) and no episode ended in success among {len(manifest['episodes'])}")
    if len(robot_kept) < args.min_kept and progress_kept == 0:
        # Only the demonstrations would be imitated: the policy was cloned from them already, and more steps on
        # them alone only move it (a one-demonstration clone went from 12.5% to 2.5% in such a round).
        common.emit({"event": "skipped", "reason": f"{len(robot_kept)} of {len(manifest['episodes']) - len(demo_episodes)} robot episodes ended in success (min_kept {args.min_kept}): nothing new to imitate, the policy stays"})
        return
    is_demo = np.isin(snapshot.episode_index, list(demo_episodes))[keep]
    observations, actions = snapshot.observations[keep], snapshot.actions[keep]
    if args.symmetry == "square-d4":
        observations, actions = common.augment_square_d4(observations, actions, manifest["observation_fields"], manifest["action"]["mode"], args.symmetry_center)
        is_demo = np.tile(is_demo, len(common.square_d4_matrices()))
    demo_rows, robot_rows = np.flatnonzero(is_demo), np.flatnonzero(~is_demo)

    obs_mean = np.asarray(parent["observation"]["mean"], np.float32)
    obs_std = np.asarray(parent["observation"]["std"], np.float32)
    act_mean = np.asarray(parent["action"]["mean"], np.float32)
    act_std = np.asarray(parent["action"]["std"], np.float32)
    x = torch.from_numpy(((observations - obs_mean) / obs_std).astype(np.float32))
    y = torch.from_numpy(((actions - act_mean) / act_std).astype(np.float32))[:, None, :]

    state_path = Path(args.state) / STATE_FILE
    state = load_state(state_path, STATE_FORMAT)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
    rounds, updates_done = 0, 0
    optimizer_from = "fresh"
    if state is not None:
        rounds, updates_done = int(state["rounds"]), int(state["updates"])
        if state["actor_version"] == parent["version"] and int(state.get("ensemble", 1)) == len(members):
            optimizer.load_state_dict(state["optimizer"])
            for group in optimizer.param_groups:
                group["lr"] = args.lr
            optimizer_from = "learner state"
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.updates, eta_min=args.lr / 10)
    rng = np.random.default_rng(args.seed + rounds)
    noise_scale = torch.from_numpy(common.velocity_noise_scale(parent["observation"]["fields"], obs_std, args.velocity_noise))
    noise_draws = torch.Generator().manual_seed(args.seed + rounds)
    loss_before = mlp_policy.mean_loss(policy, x, y)

    history: list[dict[str, typing.Any]] = []
    report_every = max(1, args.updates // 10)
    loss_sum = 0.0
    policy.train()
    for step in range(1, args.updates + 1):
        # Every member its own batch (with one member: exactly the single MLP's draws); the loss is their sum.
        losses = []
        for member in members:
            rows = torch.from_numpy(mixed_batch(rng, demo_rows, robot_rows, args.batch_size, args.demo_fraction))
            inputs = x[rows]
            if args.velocity_noise > 0:
                inputs = inputs + torch.randn(inputs.shape, generator=noise_draws) * noise_scale
            losses.append(nn.functional.mse_loss(member(inputs), y[rows]))
        loss = losses[0] if len(losses) == 1 else torch.stack(losses).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        loss = loss / len(members)  # reported per member
        loss_sum += float(loss)
        if not np.isfinite(float(loss)):
            raise TrainerError(f"loss became {float(loss)} at gradient step {step}; try a lower --lr")
        if step % report_every == 0 or step == args.updates:
            k = report_every if step % report_every == 0 else step % report_every
            record = {"event": "progress", "epoch": step, "epochs": args.updates, "losses/bc": loss_sum / k,
                      "perf/updates_per_s": step / (time.perf_counter() - started)}
            loss_sum = 0.0
            history.append(record)
            common.emit(record)

    loss_after = mlp_policy.mean_loss(policy, x, y)
    model_bytes = mlp_policy.export_onnx(policy, obs_dim)
    onnx_check = mlp_policy.verify_onnx(model_bytes, policy, obs_dim, 1, act_dim)
    sha256 = hashlib.sha256(model_bytes).hexdigest()
    version = args.version or f"fbc-{rounds + 1}-{now.strftime('%Y%m%d%H%M%S')}"
    episodes = manifest["episodes"]
    training = {
        "algorithm": "filtered_bc", "parent_version": parent["version"], "parent_sha256": parent.get("sha256"),
        "round": rounds + 1, "dataset_episodes": len(episodes), "dataset_steps": len(snapshot.observations),
        "demo_episodes": len(demo_episodes), "robot_episodes": len(episodes) - len(demo_episodes),
        "robot_episodes_kept": len(robot_kept), "robot_episodes_succeeded": successes, "top_fraction": args.top_fraction, "tail_steps": args.tail_steps, "velocity_noise": args.velocity_noise, "progress_steps_kept": progress_kept, "kept_steps": int(keep.sum()), "symmetry": args.symmetry,
        "training_rows": len(x), "ensemble": len(members), "gradient_steps": args.updates, "gradient_steps_total": updates_done + args.updates,
        "optimizer_from": optimizer_from, "bc_loss_before": loss_before, "bc_loss_after": loss_after, "gamma": gamma,
        "seed": args.seed, "torch": torch.__version__,
    }
    metadata = mlp_policy.policy_metadata(
        name=args.name or parent["name"], version=version, task=parent["task"], created=now.isoformat().replace("+00:00", "Z"),
        sha256=sha256, obs_dim=obs_dim, act_dim=act_dim, chunk=1,
        meta={"observation_fields": parent["observation"]["fields"], "action": parent["action"]},
        obs_mean=obs_mean, obs_std=obs_std, act_mean=act_mean, act_std=act_std, training=training,
        architecture=policy.architecture(),
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    common.write_atomic(out / "policy.onnx", model_bytes)
    common.write_atomic(out / "policy.card.md", model_card(metadata, args, history).encode())
    common.write_atomic(out / "policy.json", (json.dumps(metadata, indent=2) + "\n").encode())
    # Last: a state that names this version exists only once its model does.
    save_state(state_path, {
        "format": STATE_FORMAT, "actor_version": version, "ensemble": len(members), "optimizer": optimizer.state_dict(),
        "rounds": rounds + 1, "updates": updates_done + args.updates,
    })
    common.emit({
        "event": "done", "epochs": args.updates, "losses/bc": history[-1]["losses/bc"], "model": str(out / "policy.onnx"),
        "metadata": str(out / "policy.json"), "sha256": sha256, "version": version, "parent_version": parent["version"],
        "round": rounds + 1, "robot_episodes_kept": len(robot_kept), "onnx_check": onnx_check, "state": str(state_path),
        "perf/total_s": time.perf_counter() - started,
    })


def model_card(metadata: dict[str, typing.Any], args: Args, history: list[dict[str, typing.Any]]) -> str:
    t = metadata["training"]
    rows = "\n".join(f"| {h['epoch']} | {h['losses/bc']:.5f} |" for h in history)
    arg_rows = "\n".join(f"| `--{k.replace('_', '-')}` | `{v}` |" for k, v in dataclasses.asdict(args).items())
    return f"""# {metadata['name']} {metadata['version']}

Round {t['round']} of success-filtered behaviour cloning on `{metadata['task']}` (`trainer/filtered_bc.py`, torch
{t['torch']}), continued from `{t['parent_version']}`. Of {t['dataset_episodes']} stored episodes it imitated the
{t['demo_episodes']} demonstrations and {f"the {t['robot_episodes_kept']} with the highest PRM-only return of the {t['robot_episodes_succeeded']}" if t['top_fraction'] < 1 else f"the {t['robot_episodes_kept']}"} of {t['robot_episodes']} robot
episodes that the success reward model ended in success ({t['kept_steps']} steps, {t['training_rows']} rows with symmetry
{t['symmetry']}), for {t['gradient_steps']} gradient steps ({t['gradient_steps_total']} in all){f", each of {t['ensemble']} MLPs on its own batches; the graph outputs their mean" if t['ensemble'] > 1 else ""}{f", with N(0, {t['velocity_noise']}²) m/s added to the joint velocities it sees" if t['velocity_noise'] > 0 else ""}. BC loss on those rows:
{t['bc_loss_before']:.5f} before, {t['bc_loss_after']:.5f} after (normalized action units).

| argument | value |
|---|---|
{arg_rows}

| step | BC loss |
|---|---|
{rows}

## Evaluation

_Not yet evaluated._ `striatum learn` evaluates every release on held-out seeds.
"""


def main(argv: list[str] | None = None) -> int:
    return common.run_main("filtered_bc.py", train, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
