"""What every trainer script shares: the error they report, argparse built from an Args dataclass, the seeding
block, loading .npy arrays and episode runs, the episode split, atomic output files, progress JSON lines, and a
small JSON Schema validator for the manifests the TypeScript side declares (src/contracts/).

The scripts import it as `import common`: a script's own directory is on sys.path when it runs as a script.
"""

from __future__ import annotations

import argparse
import ast
import ctypes
import dataclasses
import inspect
import json
import os
import random
import sys
import textwrap
import typing
from pathlib import Path

# With more busy threads than free cores (2 cores, shared), OpenMP's spinning barriers made an Adam step up to
# 10x slower; passive waiting costs little when idle. Must be set before torch loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch


class TrainerError(Exception):
    """The input cannot be trained on, or training failed; the message is shown to the user as one line."""

    exit_status = 1


class SchemaError(TrainerError):
    """A manifest does not match its declared schema: refused before any training, exit 2 like a bad config."""

    exit_status = 2



# ---------------------------------------------------------------------------------------------------------------
# Arguments: argparse built from the dataclass, help text taken from the docstring under each field.


def field_docs(cls: type) -> dict[str, str]:
    """The string literal that follows each annotated field in a class body (how tyro reads docstrings)."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    docs: dict[str, str] = {}
    for node, following in zip(body, body[1:]):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = following.value.value
    return docs


def dataclass_parser(cls: type, prog: str, description: str) -> argparse.ArgumentParser:
    """An argparse parser with one --flag per dataclass field, its help taken from the field's docstring.
    Shared by every trainer script so their command lines behave alike."""
    docs = field_docs(cls)
    types = typing.get_type_hints(cls)
    parser = argparse.ArgumentParser(prog=prog, description=description)
    for field in dataclasses.fields(cls):
        flag = "--" + field.name.replace("_", "-")
        kind = types[field.name]
        help = docs.get(field.name, "")
        if field.default is dataclasses.MISSING:
            parser.add_argument(flag, type=kind, required=True, help=help)
            continue
        if field.default != "":
            help += f" (default: {field.default})"
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default, help=help)
        else:
            parser.add_argument(flag, type=kind, default=field.default, help=help)
    return parser



# ---------------------------------------------------------------------------------------------------------------
# Seeding and threads: one place, everything deterministic.


def seed_everything(seed: int, threads: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)
    set_blas_threads(threads)


def set_blas_threads(threads: int) -> None:
    """Debian's torch calls BLAS through the generic interface, so torch.set_num_threads never reaches
    OpenBLAS, which starts one thread per core. Best effort: without a loaded OpenBLAS nothing changes."""
    try:
        with open("/proc/self/maps") as maps:
            library = next((line.split()[-1] for line in maps if "libopenblas" in line), None)
        if library is not None:
            ctypes.CDLL(library).openblas_set_num_threads(threads)
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------------------------------------------------------
# Arrays and episodes. No pickles: np.load(allow_pickle=False).


def load_array(path: Path, ndim: int) -> np.ndarray:
    if not path.is_file():
        raise TrainerError(f"missing {path}")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise TrainerError(f"cannot read {path}: {error}") from None
    if array.ndim != ndim:
        raise TrainerError(f"{path} has shape {list(array.shape)}, expected {ndim} dimension(s)")
    return array


def episode_bounds(episode_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start (inclusive) and end (exclusive) row of each contiguous run of one episode index, in row order."""
    change = np.flatnonzero(episode_index[1:] != episode_index[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(episode_index)]))
    if len(np.unique(episode_index[starts])) != len(starts):
        values, counts = np.unique(episode_index[starts], return_counts=True)
        raise TrainerError(f"episode {values[counts > 1][0]} is split over non-adjacent rows in episode_index.npy")
    return starts, ends


def split_episodes(episodes: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle episode indices and hold out round(val_fraction * n) of them (at least one, never all)."""
    shuffled = np.random.default_rng(seed).permutation(np.asarray(episodes))
    n_val = 0
    if val_fraction > 0 and len(shuffled) >= 2:
        n_val = min(max(1, round(val_fraction * len(shuffled))), len(shuffled) - 1)
    return np.sort(shuffled[n_val:]), np.sort(shuffled[:n_val])


# ---------------------------------------------------------------------------------------------------------------
# Output: files are written next to their final name and renamed, so a reader never sees a half-written one;
# progress is one JSON line per record on stdout; a TrainerError is one line on stderr.


def write_atomic(path: Path, content: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)



def emit(record: dict[str, typing.Any]) -> None:
    """One progress line on stdout (metrics under charts/, losses/, perf/), flushed so a reader sees it now."""
    print(json.dumps(record), flush=True)


def run_main(prog: str, train: typing.Callable[[typing.Any], None], args: typing.Any) -> int:
    """Runs train(args); a TrainerError becomes '<prog>: error: <message>' on stderr and its exit status (1, or 2
    for a manifest that does not match its schema)."""
    try:
        train(args)
    except TrainerError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return error.exit_status
    return 0


# ---------------------------------------------------------------------------------------------------------------
# JSON Schema: the manifests are declared once, in zod (src/contracts/), and exported as JSON Schema files that
# `npm run docs` writes next to the trainers. This checks the subset of draft 2020-12 those files use; a keyword
# outside it is refused, so a schema that grows a new rule fails loudly here instead of being half-checked.

SCHEMA_ANNOTATIONS = frozenset({"$schema", "title", "description"})
JSON_TYPES: dict[str, typing.Callable[[typing.Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer(),
}


def load_schema(path: Path) -> dict[str, typing.Any]:
    try:
        return json.loads(path.read_text())
    except (ValueError, OSError) as error:
        raise TrainerError(f"cannot read schema {path}: {error}") from None


def schema_problems(value: typing.Any, schema: dict[str, typing.Any], path: str = "") -> list[str]:
    """Every way value breaks schema, each as '<field path>: <what is wrong>' (path like episodes[0].steps).
    Collects instead of stopping at the first, as zod does; the caller decides how to report them."""
    where = path or "(root)"
    unknown = set(schema) - SCHEMA_ANNOTATIONS - {
        "type", "const", "enum", "properties", "required", "additionalProperties", "items",
        "minItems", "minLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    }
    if unknown:
        raise TrainerError(f"schema keyword(s) {sorted(unknown)} at {where} are not supported by trainer/common.py")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(JSON_TYPES[t](value) for t in types):
            return [f"{where}: expected {' or '.join(types)}, got {json.dumps(value)[:40]}"]
    if "const" in schema and value != schema["const"]:
        return [f"{where}: expected {json.dumps(schema['const'])}, got {json.dumps(value)[:40]}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: expected one of {', '.join(json.dumps(e) for e in schema['enum'])}, got {json.dumps(value)[:40]}"]
    problems: list[str] = []
    if JSON_TYPES["number"](value):
        for keyword, holds, words in (
            ("minimum", lambda v, b: v >= b, "at least"),
            ("maximum", lambda v, b: v <= b, "at most"),
            ("exclusiveMinimum", lambda v, b: v > b, "greater than"),
            ("exclusiveMaximum", lambda v, b: v < b, "less than"),
        ):
            if keyword in schema and not holds(value, schema[keyword]):
                problems.append(f"{where}: must be {words} {schema[keyword]}, got {value}")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        problems.append(f"{where}: must have at least {schema['minLength']} character(s)")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{where}: must have at least {schema['minItems']} item(s), has {len(value)}")
        if "items" in schema:
            for i, item in enumerate(value):
                problems += schema_problems(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                problems.append(f"{f'{path}.' if path else ''}{key}: required, missing")
        for key, item in value.items():
            field = f"{path}.{key}" if path else key
            if key in properties:
                problems += schema_problems(item, properties[key], field)
            elif schema.get("additionalProperties") is False:
                problems.append(f"{field}: not a field of this document")
    return problems


def check_against_schema(document: typing.Any, schema: dict[str, typing.Any], source: Path) -> None:
    """Refuses a document that breaks its schema with a SchemaError naming the first field and the count."""
    problems = schema_problems(document, schema)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise SchemaError(f"{source} does not match {schema.get('title', 'its schema')}: {problems[0]}{more}")


# ---------------------------------------------------------------------------------------------------------------
# Task symmetry: the push table is a square seen from above, so its 8 rotations and reflections about the table
# centre map any episode onto another valid episode with the same outcome (walls, joint limits and layout ranges
# are symmetric; the physics has no preferred direction). Positions are points (p → c + M·(p − c)), velocities and
# velocity commands are vectors (v → M·v).

SYMMETRIES = ("none", "square-d4")
POINT_FIELDS = frozenset({"joint_positions", "block_position", "pad_position"})
VECTOR_FIELDS = frozenset({"joint_velocities"})
VELOCITY_FIELD = "joint_velocities"


def velocity_noise_scale(fields: list[dict[str, typing.Any]], obs_std: np.ndarray, sigma: float) -> np.ndarray:
    """Per normalized observation column, the std of the noise that adds N(0, sigma²) (m/s) to the measured joint
    velocities and nothing elsewhere: the training-time input noise of --velocity-noise. Why: the joints follow
    their command with a 30 ms lag, so the measured velocity is nearly the last command, and a clone that can read it
    learns to repeat what it did (the copycat problem of behaviour cloning from histories: de Haan et al. 2019,
    Wen et al. 2020) instead of acting on where the pusher and the block are."""
    scale = np.zeros(len(obs_std), np.float32)
    column = 0
    for field in fields:
        size = int(field["size"])
        if field["name"] == VELOCITY_FIELD:
            scale[column : column + size] = sigma / obs_std[column : column + size]
        column += size
    if sigma > 0 and not scale.any():
        raise TrainerError(f"--velocity-noise needs an observation field named {VELOCITY_FIELD}; the policy sees {', '.join(f['name'] for f in fields)}")
    return scale


def square_d4_matrices() -> list[np.ndarray]:
    """The 8 signed permutation matrices of the square's symmetry group; the identity first."""
    matrices = []
    for perm in ((0, 1), (1, 0)):
        for sx in (1.0, -1.0):
            for sy in (1.0, -1.0):
                m = np.zeros((2, 2))
                m[0, perm[0]], m[1, perm[1]] = sx, sy
                matrices.append(m)
    return matrices


def augment_square_d4(
    observations: np.ndarray, actions: np.ndarray, fields: list[dict[str, typing.Any]], action_mode: str, center: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows ×8: every row under each of the square's symmetries (identity first), observations field by field.
    Refuses fields or action modes it does not know how to transform: a wrong transform would teach nonsense."""
    if action_mode != "velocity" or actions.shape[1] != 2:
        raise TrainerError(f"square-d4 symmetry needs 2 velocity-commanded joints, the data has {actions.shape[1]} in {action_mode} mode")
    layout = []
    column = 0
    for field in fields:
        name, size = field["name"], int(field["size"])
        if size != 2 or name not in POINT_FIELDS | VECTOR_FIELDS:
            raise TrainerError(f"square-d4 symmetry does not know how to transform observation field {name} (size {size})")
        layout.append((column, name in POINT_FIELDS))
        column += size
    out_obs, out_act = [], []
    for m in square_d4_matrices():
        o = observations.copy()
        for start, is_point in layout:
            part = observations[:, start : start + 2].astype(np.float64)
            o[:, start : start + 2] = center + (part - center) @ m.T if is_point else part @ m.T
        out_obs.append(o)
        out_act.append((actions.astype(np.float64) @ m.T).astype(actions.dtype))
    return np.concatenate(out_obs), np.concatenate(out_act)
