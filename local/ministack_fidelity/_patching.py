"""How every fidelity patch checks what it patches before it touches anything.

A patch wraps MiniStack functions it has read. If one of them is missing, has other
parameters, or its source text differs from the reviewed text (a sha256 prefix of
``inspect.getsource``), the launcher refuses to start: a stack whose rules silently
differ from AWS is worse than no stack.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, NoReturn


class Expectation(NamedTuple):
    """A reviewed MiniStack function: its parameter names and the digest of its source."""

    params: tuple[str, ...]
    digest: str


def refuse(problem: str) -> NoReturn:
    sys.exit(
        f"local/ministack_launcher.py: {problem} Re-read the MiniStack source and the patch "
        "in local/ministack_fidelity/ before starting: the local stack would differ from AWS."
    )


def source_digest(function: Callable[..., Any]) -> str:
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return "source unreadable"
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def lookup(owner: Any, dotted: str) -> Any:
    """``owner.a.b`` for ``"a.b"``, or None."""
    value = owner
    for part in dotted.split("."):
        value = getattr(value, part, None)
    return value


def verify(owner: Any, expected: Mapping[str, Expectation]) -> None:
    """Refuse to start unless every expected function is there, unchanged."""
    for name, expectation in expected.items():
        function = lookup(owner, name)
        if not callable(function):
            refuse(f"MiniStack has no function {name}.")
        params = tuple(inspect.signature(function).parameters)
        if params != expectation.params:
            refuse(f"MiniStack's {name} takes {params}, the patch expects {expectation.params}.")
        digest = source_digest(function)
        if digest != expectation.digest:
            refuse(
                f"MiniStack's {name} changed (source sha256 {digest}, "
                f"reviewed {expectation.digest})."
            )


def verify_callers(owner: Any, callee: str, reviewed: Iterable[str]) -> None:
    """Refuse to start unless ``callee`` is called from exactly the reviewed functions."""
    pattern = re.compile(rf"\b{re.escape(callee)}\(")
    found = set()
    for name, value in vars(owner).items():
        if inspect.isfunction(value) and value.__module__ == owner.__name__:
            try:
                body = inspect.getsource(value).split("\n", 1)[-1]  # not its own def line
            except (OSError, TypeError):
                refuse(f"the source of MiniStack's {name} cannot be read.")
            if pattern.search(body):
                found.add(name)
    if found != set(reviewed):
        refuse(
            f"MiniStack calls {callee} from {sorted(found)}, the patch was reviewed for "
            f"{sorted(reviewed)}."
        )


def wrap(owner: Any, name: str, make: Callable[[Any], Callable[..., Any]]) -> None:
    """Replace ``owner.name`` by ``make(original)``, keeping the original's metadata."""
    original = getattr(owner, name)
    replacement = functools.wraps(original)(make(original))
    setattr(owner, name, replacement)
