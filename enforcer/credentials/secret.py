"""The masked value type every secret travels in, from the inventory to the wire.

A :class:`Secret` prints as ``***`` in every form (``str``, ``repr``, f-strings), cannot be pickled,
and compares by value; the raw value is read with :meth:`Secret.reveal` only where it leaves for a
device or the credential store.

    >>> s = Secret("hunter2", "env:NVR_PASSWORD")
    >>> f"{s}", repr(s), s == Secret("hunter2", "elsewhere")
    ('***', "Secret(***, ref='env:NVR_PASSWORD')", True)
"""

from __future__ import annotations

from typing import Any, Final

MASK: Final = "***"


class Secret:
    """A secret value that prints as ``***``; compare with ``==``, read with :meth:`reveal`."""

    __slots__ = ("_value", "ref")

    def __init__(self, value: str, ref: str) -> None:
        self._value = value
        self.ref = ref

    def reveal(self) -> str:
        """The raw value: call only where it leaves for a device or the secret store."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK}, ref={self.ref!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")
