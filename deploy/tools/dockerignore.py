"""The build context Docker sends for a directory with a ``.dockerignore``: which files an
image build can see.

Follows Docker's own rules (moby's ``ignorefile`` reader and ``patternmatcher``), so a test
can rebuild the context in a temporary directory and build from it what the image builds:

- lines starting with ``#`` are comments; blank lines are skipped; each pattern is trimmed,
  cleaned as a path and taken relative to the context root; ``!`` re-includes;
- ``*`` and ``?`` match within one path segment, ``**`` any number of segments (none too),
  ``[...]`` a character class; a pattern matching a directory matches everything below it;
- the last pattern that matches a path decides;
- a directory that is excluded is not entered unless a ``!`` pattern names something below
  it literally (its text starts with the directory), as Docker's context walker does.

    python deploy/tools/dockerignore.py [ROOT]     # print the files of ROOT's context
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

# Regular-expression characters that mean nothing in a path pattern (patternmatcher's list).
_ESCAPE = set(".+()|{}$")


@dataclass
class Pattern:
    text: str  # cleaned, without its "!"
    exclusion: bool  # a "!" pattern: the files it matches are sent after all
    _kind: str = field(init=False, default="")
    _regex: re.Pattern[str] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._compile()

    def _compile(self) -> None:
        """patternmatcher's ``compile``: an exact, prefix (``dir/**``), suffix (``**/name``)
        or regular-expression match."""
        text, regex, kind = self.text, "^", "exact"
        pos, step = 0, 0  # step counts what the loop consumes: a "**" is one step
        while pos < len(text):
            ch = text[pos]
            pos += 1
            if ch == "*" and text[pos : pos + 1] == "*":
                pos += 1
                if text[pos : pos + 1] == "/":
                    pos += 1  # "**/" is "**"
                if pos < len(text):
                    regex, kind = regex + "(.*/)?", "regex"
                elif kind == "exact":
                    kind = "prefix"
                else:
                    regex, kind = regex + ".*", "regex"
                if step == 0:
                    kind = "suffix"
            elif ch == "*":
                regex, kind = regex + "[^/]*", "regex"
            elif ch == "?":
                regex, kind = regex + "[^/]", "regex"
            elif ch in _ESCAPE:
                regex += "\\" + ch
            elif ch == "\\":
                if pos < len(text):
                    regex, kind = regex + re.escape(text[pos]), "regex"
                    pos += 1
                else:
                    regex += "\\\\"
            elif ch in "[]":
                regex, kind = regex + ch, "regex"
            else:
                regex += ch
            step += 1
        self._kind = kind
        if kind == "regex":
            self._regex = re.compile(regex + "$")

    def match(self, path: str) -> bool:
        if self._kind == "exact":
            return path == self.text
        if self._kind == "prefix":
            return path.startswith(self.text[:-2])
        if self._kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
        assert self._regex is not None
        return self._regex.match(path) is not None


def parse(text: str) -> list[Pattern]:
    """The patterns of a ``.dockerignore``, as Docker reads them."""
    patterns: list[Pattern] = []
    for raw in text.removeprefix("\ufeff").splitlines():
        if raw.startswith("#"):
            continue
        line = raw.strip()
        if not line:
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        if line:
            line = posixpath.normpath(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append(Pattern(line, exclusion))
    return patterns


def ignored(patterns: list[Pattern], path: str) -> bool:
    """patternmatcher's ``MatchesOrParentMatches``: whether ``path`` (relative, ``/``-separated)
    stays out of the context."""
    matched = False
    parent = posixpath.dirname(path)
    parents = parent.split("/") if parent else []
    for pattern in patterns:
        if pattern.exclusion != matched:
            continue  # an include that already matched, or a "!" with nothing to undo
        hit = pattern.match(path) or any(
            pattern.match("/".join(parents[: i + 1])) for i in range(len(parents))
        )
        if hit:
            matched = not pattern.exclusion
    return matched


def context_files(root: Path) -> list[str]:
    """Every file of ``root``'s build context, relative and sorted."""
    ignore = root / ".dockerignore"
    patterns = parse(ignore.read_text()) if ignore.exists() else []
    exclusions = [p.text for p in patterns if p.exclusion]
    found: list[str] = []
    for current, dirs, files in os.walk(root):
        base = Path(current).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        kept = []
        for name in sorted(dirs):
            rel = prefix + name
            if not ignored(patterns, rel) or any(
                (text + "/").startswith(rel + "/") for text in exclusions
            ):
                kept.append(name)
        dirs[:] = kept
        found.extend(prefix + name for name in files if not ignored(patterns, prefix + name))
    return sorted(found)


def copy_context(root: Path, target: Path) -> list[str]:
    """Copy ``root``'s build context to ``target``; returns the files copied."""
    files = context_files(root)
    for rel in files:
        destination = target / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, destination)
    return files


if __name__ == "__main__":
    where = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    print("\n".join(context_files(where.resolve())))
