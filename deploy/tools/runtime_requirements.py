"""Print the part of ``requirements.lock`` a process needs at run time, hashes included.

``requirements.lock`` (exported by ``uv export``) pins the whole workspace: runtime and
development packages alike. Each entry carries ``# via`` annotations naming what pulls it
in; a package belongs to the runtime set when one of those is a workspace package being
installed or another package of the runtime set. Direct development dependencies have no
workspace parent, so they and everything only they pull in stay out.

Usage (the container build runs it with the base image's Python, no dependencies):

    python runtime_requirements.py requirements.lock coupon-core gateway > runtime.txt
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

_ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Entry:
    name: str
    lines: list[str] = field(default_factory=list)
    via: set[str] = field(default_factory=set)


def parse_lock(text: str) -> list[Entry]:
    entries: list[Entry] = []
    in_via = False
    for line in text.splitlines():
        match = _ENTRY.match(line)
        if match:
            entries.append(Entry(canonical(match["name"]), [line]))
            in_via = False
            continue
        if not entries or not line.startswith(" "):
            continue
        stripped = line.strip()
        if stripped.startswith("--hash"):
            entries[-1].lines.append(line)
        elif stripped.startswith("# via"):
            rest = stripped.removeprefix("# via").strip()
            in_via = not rest
            if rest:
                entries[-1].via.add(canonical(rest))
        elif in_via and stripped.startswith("#"):
            entries[-1].via.add(canonical(stripped.lstrip("#").strip()))
    return entries


def runtime_entries(entries: list[Entry], roots: list[str]) -> list[Entry]:
    """The entries reachable from ``roots`` through the ``via`` annotations."""
    wanted = {canonical(root) for root in roots}
    changed = True
    while changed:
        changed = False
        for entry in entries:
            if entry.name not in wanted and entry.via & wanted:
                wanted.add(entry.name)
                changed = True
    return [entry for entry in entries if entry.name in wanted]


def render(entries: list[Entry]) -> str:
    out: list[str] = []
    for entry in entries:
        lines = list(entry.lines)
        # The last hash line of an entry ends the requirement: no continuation after it.
        lines[-1] = lines[-1].rstrip().removesuffix("\\").rstrip()
        out.extend(lines)
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    lock, roots = Path(argv[0]), argv[1:]
    selected = runtime_entries(parse_lock(lock.read_text()), roots)
    sys.stdout.write(render(selected))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
