"""Every file of the hostile corpus is refused with ``InvalidBaselines``, fast and small.

The corpus (``tests/unit/hostile_baselines/``, plus the large ones made here: 10 MB, 50,000
nested brackets, binary noise, a megabyte of keys) holds what an attacker or an accident
hands the orchestrator: alias bombs, recursion, deep nesting, huge files, binary, non-UTF-8,
byte-order marks, duplicate keys at every level, tabs, anchors across baselines, Python and
custom YAML tags. Each goes through the path the CLI and the Lambdas share (the file's size,
then its text, then the model) and must end in ``InvalidBaselines`` -- never another
exception -- in under a second and under 50 MB of allocations; ``plan`` answers each with
exit code 1 and no traceback. ``bench`` reports the worst time and memory of the corpus.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.hostile_baselines import BYTES, CORPUS, GENERATED, SECONDS, corpus, files, refuse


def test_the_corpus_has_at_least_twenty_hostile_files(tmp_path: Path) -> None:
    assert len(corpus(tmp_path)) >= 20


@pytest.mark.parametrize("name", [p.name for p in files()] + sorted(GENERATED))
def test_each_hostile_file_is_refused_by_name_fast_and_small(name: str, tmp_path: Path) -> None:
    [path] = [p for p in corpus(tmp_path) if p.name == name]
    seconds, peak = refuse(path)
    assert seconds < SECONDS, f"{name}: {seconds:.2f} s"
    assert peak < BYTES, f"{name}: {peak / 1e6:.1f} MB"


@pytest.mark.parametrize("name", ["alias_bomb.yaml", "python_object_apply.yaml",
                                  "utf16_bom.yaml", "duplicate_in_overrides.yaml"])  # fmt: skip
def test_plan_answers_a_hostile_file_with_exit_1_and_no_traceback(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from stax_orchestrator import cli

    code = cli.main(["plan", str(CORPUS / name), "--aws-region", "us-east-1"])
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.out + captured.err
    assert "✘" in captured.err and captured.out == ""
