"""A plain-text progress bar on stderr: a terminal redraws it in place; anywhere else (a
log, a pipe) gets its final state only, as one line."""

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
        if not self.interactive:
            return
        text = self.text(done)
        if text == self.shown:
            return
        self.shown = text
        self.stream.write("\r" + text)
        self.stream.flush()

    def finish(self, done: int) -> None:
        if self.interactive:
            self.update(done)
            self.stream.write("\n")
        else:
            self.stream.write(self.text(done) + "\n")
        self.stream.flush()
