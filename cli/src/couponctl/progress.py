"""A plain-text progress bar on stderr (a terminal redraws it in place; a log gets lines)."""

from __future__ import annotations

from typing import TextIO

WIDTH = 30


class Progress:
    """``update(done)`` redraws the bar; ``total=None`` shows a running count instead."""

    def __init__(self, label: str, total: int | None, stream: TextIO) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.shown: str | None = None
        self.interactive = stream.isatty()

    def text(self, done: int) -> str:
        if not self.total:
            return f"{self.label}: {done}"
        fraction = min(done / self.total, 1.0)
        filled = int(fraction * WIDTH)
        bar = "#" * filled + "-" * (WIDTH - filled)
        return f"{self.label} [{bar}] {fraction:4.0%} {done}/{self.total}"

    def update(self, done: int) -> None:
        text = self.text(done)
        if text == self.shown:
            return
        self.shown = text
        if self.interactive:
            self.stream.write("\r" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self, done: int) -> None:
        self.update(done)
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
