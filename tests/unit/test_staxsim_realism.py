"""Realism settings: strict defaults, lenient mode, validation, the seeded null RNG."""

from __future__ import annotations

from typing import Any

import pytest

from staxsim.realism import NullDice, Realism, RealismError


def test_strict_is_the_default_with_one_second_lag_and_a_quarter_of_responses_nulled() -> None:
    assert Realism() == Realism(
        strict=True, read_after_write_lag_seconds=1.0, null_share=0.25, seed=None
    )
    assert Realism.for_mode(True) == Realism()


def test_lenient_mode_has_no_lag_and_no_nulls() -> None:
    lenient = Realism.for_mode(False)
    assert (lenient.strict, lenient.read_after_write_lag_seconds, lenient.null_share) == (
        False,
        0.0,
        0.0,
    )


def test_changing_strict_alone_resets_lag_and_null_share_to_that_modes_defaults() -> None:
    custom = Realism(read_after_write_lag_seconds=3.0, null_share=0.5, seed=9)
    assert custom.updated({"strict": False}) == Realism(False, 0.0, 0.0, 9)
    assert Realism.for_mode(False).updated({"strict": True}) == Realism()


def test_explicit_values_win_over_the_mode_defaults() -> None:
    changed = Realism().updated({"strict": False, "null_share": 1, "seed": 5})
    assert changed == Realism(False, 0.0, 1.0, 5)
    assert changed.updated({"seed": None}).seed is None
    assert changed.updated({}).as_dict() == {
        "strict": False,
        "read_after_write_lag_seconds": 0.0,
        "null_share": 1.0,
        "seed": 5,
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"strict": "yes"}, "strict:"),
        ({"null_share": 1.5}, "null_share:"),
        ({"null_share": True}, "null_share:"),
        ({"read_after_write_lag_seconds": -1}, "read_after_write_lag_seconds:"),
        ({"read_after_write_lag_seconds": 4000}, "read_after_write_lag_seconds:"),
        ({"seed": 1.5}, "seed:"),
        ({"colour": "red"}, "colour: unknown field"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(RealismError, match=field):
        Realism().updated(changes)


def test_the_null_dice_never_rolls_at_zero_always_at_one_and_repeats_with_a_seed() -> None:
    dice = NullDice(1)
    assert not any(dice.roll(0.0) for _ in range(100))
    assert all(dice.roll(1.0) for _ in range(100))
    dice.reseed(42)
    first = [dice.roll(0.25) for _ in range(200)]
    dice.reseed(42)
    assert [dice.roll(0.25) for _ in range(200)] == first
    assert 25 < sum(first) < 80  # about a quarter
