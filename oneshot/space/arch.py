"""`Arch`: an architecture is an immutable tuple of per-layer choice indices."""
from __future__ import annotations

import operator
from typing import Iterable

from ..errors import UserInputError

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _choice(value: object) -> int:
    """A choice index: an int (numpy ints and integral 0-d tensors too), never a float truncated to one."""
    try:
        return operator.index(value)
    except TypeError:
        raise UserInputError(f"arch choice {value!r} is not an integer choice index") from None


class Arch(tuple):
    """Immutable tuple of choice indices, one per searchable layer.

    Its string form has one character per layer (``"22212220"``); layers with more
    than ten candidates continue with lowercase letters (base 36). Parsing a string
    against a space (:meth:`SearchSpace.parse`) validates lengths and ranges.
    """

    __slots__ = ()

    def __new__(cls, choices: Iterable[int]) -> "Arch":
        if isinstance(choices, str):
            return cls.from_string(choices)
        values = tuple(_choice(c) for c in choices)
        for i, c in enumerate(values):
            if not 0 <= c < len(_DIGITS):
                raise UserInputError(f"layer {i}: choice {c} is out of range 0..{len(_DIGITS) - 1}")
        return super().__new__(cls, values)

    @classmethod
    def from_string(cls, text: str) -> "Arch":
        text = text.strip().lower()
        choices = []
        for i, ch in enumerate(text):
            idx = _DIGITS.find(ch)
            if idx < 0:
                raise UserInputError(
                    f"arch {text!r}: character {ch!r} at layer {i} is not a choice digit (0-9, a-z)"
                )
            choices.append(idx)
        return cls(choices)

    def __str__(self) -> str:
        return "".join(_DIGITS[c] for c in self)

    def __repr__(self) -> str:
        return f"Arch('{self}')"
