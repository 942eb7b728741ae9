"""How backup and restore report progress: a no-op :class:`Reporter` here, rich bars in the CLI."""

from __future__ import annotations


class Reporter:
    """One task at a time: ``begin`` (label, total bytes), ``advance`` (bytes done), ``end``."""

    def begin(self, label: str, total_bytes: int) -> None:
        """A new task of ``total_bytes`` starts."""

    def advance(self, n: int) -> None:
        """``n`` more bytes of the current task are done."""

    def end(self) -> None:
        """The current task is finished."""
