"""Parameter checks that raise `InvalidParameterError` naming the parameter, value and range."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from .exceptions import InvalidParameterError

__all__ = ["check_bool", "check_choice", "check_float", "check_int", "check_seed"]


def _fail(owner: str, name: str, value: Any, expected: str) -> InvalidParameterError:
    return InvalidParameterError(f"{owner}: {name}={value!r} is invalid; expected {expected}")


def check_int(
    owner: str, name: str, value: Any, low: int | None = None, high: int | None = None,
    allow_none: bool = False,
) -> int | None:  # fmt: skip
    """An integer in ``[low, high]``."""
    if value is None and allow_none:
        return None
    rng = _range_text(low, high, closed=(True, True))
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _fail(owner, name, value, f"an integer{rng}" + (" or None" if allow_none else ""))
    if (low is not None and value < low) or (high is not None and value > high):
        raise _fail(owner, name, value, f"an integer{rng}")
    return int(value)


def check_float(
    owner: str, name: str, value: Any, low: float | None = None, high: float | None = None,
    low_open: bool = False, high_open: bool = False, allow_none: bool = False,
) -> float | None:  # fmt: skip
    """A finite real number in the given (half-)open or closed range."""
    if value is None and allow_none:
        return None
    rng = _range_text(low, high, closed=(not low_open, not high_open))
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value:
        raise _fail(owner, name, value, f"a number{rng}" + (" or None" if allow_none else ""))
    v = float(value)
    bad_low = low is not None and (v <= low if low_open else v < low)
    bad_high = high is not None and (v >= high if high_open else v > high)
    if bad_low or bad_high or v in (float("inf"), float("-inf")):
        raise _fail(owner, name, value, f"a number{rng}")
    return v


def check_choice(owner: str, name: str, value: Any, choices: Sequence[Any]) -> Any:
    if value not in choices:
        raise _fail(owner, name, value, "one of " + ", ".join(repr(c) for c in choices))
    return value


def check_bool(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(owner, name, value, "True or False")
    return value


def check_seed(owner: str, name: str, value: Any) -> int | None:
    """A seed: None or a non-negative integer."""
    if value is None:
        return None
    return check_int(owner, name, value, 0, 2**63 - 1)


def _range_text(low: Any, high: Any, closed: tuple[bool, bool]) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>=' if closed[0] else '>'} {low}"
    if low is None:
        return f" {'<=' if closed[1] else '<'} {high}"
    return f" in {'[' if closed[0] else '('}{low}, {high}{']' if closed[1] else ')'}"
