"""Paged Stax reads follow ``Paging.NextOffset`` as Stax gives it, and stop with a named
error when a page does not advance (the document calls ``offset`` a page number in one
place and a record offset in another; either way it must move forward)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.errors import StaxPagingStalled
from chalicelib.stax import pages


def _reader(next_offsets: list[Any]) -> tuple[Any, list[int]]:
    asked: list[int] = []

    def read(offset: int) -> dict[str, Any]:
        asked.append(offset)
        given = next_offsets[len(asked) - 1]
        return {"Items": [offset], "Paging": {"NextOffset": given} if given is not None else {}}

    return read, asked


@pytest.mark.parametrize(
    ("next_offsets", "asked"),
    [([None], [0]), ([100, 200, None], [0, 100, 200]), ([1, 2, 0], [0, 1, 2]), ([3, ""], [0, 3])],
    ids=["one page", "record offsets", "page numbers, then 0", "an empty string ends"],
)
def test_every_page_is_read_with_the_offset_stax_gave(next_offsets: list, asked: list) -> None:
    read, seen = _reader(next_offsets)
    assert [p["Items"][0] for p in pages("ReadWorkloads", read)] == asked == seen


@pytest.mark.parametrize("stalled", [[100, 100], [100, 50], [100, "next"]])
def test_a_page_that_does_not_advance_is_an_error_never_a_loop(stalled: list) -> None:
    read, seen = _reader(stalled)
    with pytest.raises(StaxPagingStalled) as error:
        list(pages("ReadAccounts", read))
    assert error.value.details["call"] == "ReadAccounts" and len(seen) == 2
