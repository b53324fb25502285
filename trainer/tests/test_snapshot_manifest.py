"""Tests for the snapshot manifest contract on the Python side: the JSON Schema validator in trainer/common.py and
awr.py's loader, on the fixture snapshot that test/snapshot-manifest.test.ts reads too.

    /usr/bin/python3 -m unittest discover -s trainer/tests
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

TRAINER = Path(__file__).resolve().parents[1]
FIXTURE = TRAINER.parent / "test" / "fixtures" / "snapshot"
sys.path.insert(0, str(TRAINER))
import awr  # noqa: E402
import common  # noqa: E402


def fixture_manifest() -> dict:
    return json.loads((FIXTURE / "manifest.json").read_text())


class ValidatorTest(unittest.TestCase):
    def test_the_fixture_manifest_matches_the_committed_schema(self) -> None:
        self.assertEqual(common.schema_problems(fixture_manifest(), awr.SNAPSHOT_SCHEMA), [])

    def test_each_problem_names_its_field_path(self) -> None:
        manifest = fixture_manifest()
        manifest["episodes"][1]["steps"] = "two"
        manifest["action"]["mode"] = "teleport"
        manifest["gamma"] = 0
        del manifest["task"]
        manifest["colour"] = "red"
        problems = common.schema_problems(manifest, awr.SNAPSHOT_SCHEMA)
        fields = sorted(p.split(":")[0] for p in problems)
        self.assertEqual(fields, ["action.mode", "colour", "episodes[1].steps", "gamma", "task"])

    def test_types_minimum_and_items(self) -> None:
        schema = {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 1}}
        self.assertEqual(common.schema_problems([1, 2], schema), [])
        self.assertEqual(len(common.schema_problems([], schema)), 1)
        self.assertEqual([p.split(":")[0] for p in common.schema_problems([1, 0, True, 2.5], schema)], ["[1]", "[2]", "[3]"])
        self.assertEqual(common.schema_problems(None, {"type": ["string", "null"]}), [])

    def test_a_keyword_the_validator_does_not_know_is_refused_not_skipped(self) -> None:
        with self.assertRaises(common.TrainerError):
            common.schema_problems("abc", {"type": "string", "pattern": "^a"})


class LoaderTest(unittest.TestCase):
    def test_awr_reads_the_fixture_snapshot(self) -> None:
        snapshot = awr.load_snapshot(FIXTURE)
        self.assertEqual(snapshot.observations.shape, (5, 4))
        self.assertEqual(snapshot.actions.shape, (5, 2))
        self.assertEqual(snapshot.episode_index.tolist(), [0, 0, 0, 1, 1])
        self.assertEqual(snapshot.terminals.tolist(), [False, False, True, False, False])
        self.assertEqual(snapshot.truncations.tolist(), [False, False, False, False, True])
        self.assertEqual(snapshot.manifest["task"], "push")

    def test_episode_steps_that_disagree_with_the_arrays_are_refused(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "snap"
            shutil.copytree(FIXTURE, data)
            manifest = fixture_manifest()
            manifest["episodes"][0]["steps"] = 4
            (data / "manifest.json").write_text(json.dumps(manifest))
            with self.assertRaisesRegex(common.TrainerError, "episode 0"):
                awr.load_snapshot(data)

    def test_a_broken_manifest_is_refused_before_training_naming_the_field_with_exit_2(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "snap"
            shutil.copytree(FIXTURE, data)
            manifest = fixture_manifest()
            manifest["observation_fields"][1]["size"] = -2
            (data / "manifest.json").write_text(json.dumps(manifest))
            result = subprocess.run(
                [sys.executable, str(TRAINER / "awr.py"), "--data", str(data), "--base", str(Path(tmp) / "no-base"),
                 "--out", str(Path(tmp) / "out")],
                capture_output=True, text=True, timeout=120, cwd=tmp,
            )
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertRegex(result.stderr.strip(), r"^awr\.py: error: .*observation_fields\[1\]\.size: must be at least 1")
            self.assertFalse((Path(tmp) / "out").exists())


if __name__ == "__main__":
    unittest.main()
