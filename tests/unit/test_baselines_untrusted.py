"""A baselines file is untrusted input: refused by name and line, before it costs anything.

Aliases (each rebuilt at every reference: a few hundred bytes grow past gigabytes), a
self-referencing alias, nesting past the composer's recursion, a file or S3 object past
1 MiB (checked before it is read): each is ``InvalidBaselines`` naming the line.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest

from chalicelib.baselines import InvalidBaselines, load_baselines
from chalicelib.baselines.automatic import STORED_KEY, read_stored
from chalicelib.baselines.source import MAX_DEPTH, MAX_FILE_BYTES, read_file

#: The "billion laughs" of YAML: nine levels of nine aliases, 421 bytes.
ALIAS_BOMB = "baselines:\n  a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  {chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n"
    for i in range(8)
)


def refusal(text: str) -> dict[str, Any]:
    with pytest.raises(InvalidBaselines) as refused:
        load_baselines(text, "bomb.yaml")
    (problem,) = refused.value.problems
    return problem


def test_an_alias_bomb_is_refused_at_its_first_alias() -> None:
    problem = refusal(ALIAS_BOMB)
    assert problem["line"] == 3 and problem["path"] == "bomb.yaml"
    assert "alias (*a)" in problem["message"] and "write the value out" in problem["message"]


def test_a_self_referencing_alias_is_refused_not_a_recursion_error() -> None:
    problem = refusal("baselines:\n  a: &loop [1, *loop]\n")
    assert problem["line"] == 2 and "alias (*loop)" in problem["message"]


def test_a_merge_key_written_inline_still_loads() -> None:
    text = "baselines:\n  a:\n    <<: {catalogue: x}\n    version: latest\n"
    with pytest.raises(InvalidBaselines) as refused:  # refused for what it lacks, not its form
        load_baselines(text)
    assert all("alias" not in p["message"] for p in refused.value.problems)


@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_nesting_deeper_than_the_limit_is_refused_by_line(opening: str) -> None:
    problem = refusal("baselines:\n  a: " + opening * 50_000 + "\n")
    assert problem["line"] == 2
    assert f"nested deeper than {MAX_DEPTH} levels" in problem["message"]


def test_an_unclosed_quote_points_at_the_line_where_it_opens() -> None:
    text = 'baselines:\n  a:\n    catalogue: "abc\n    version: x\n    tags: {}\n'
    problem = refusal(text)
    assert problem["line"] == 3 and problem["path"] == "bomb.yaml"


def test_a_file_past_the_limit_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:  # sparse: its size without its bytes
        handle.truncate(MAX_FILE_BYTES * 1024)

    def no_open(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the file was opened")

    monkeypatch.setattr(builtins, "open", no_open)
    with pytest.raises(InvalidBaselines) as refused:
        read_file(str(path))
    assert "bigger than 1024 KiB" in refused.value.message
    assert refused.value.problems[0]["path"] == str(path)


def test_a_stored_object_past_the_limit_is_refused_by_its_length(aws: Any) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="stage-bucket")
    s3.put_object(Bucket="stage-bucket", Key=STORED_KEY, Body=b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(InvalidBaselines) as refused:
        read_stored(s3, "stage-bucket", "123456789012")
    assert "bigger than 1024 KiB" in refused.value.message
    assert f"s3://stage-bucket/{STORED_KEY}" in refused.value.message
