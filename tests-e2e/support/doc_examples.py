"""The shell examples of the user docs, as the doc test runs them.

A doc's fenced ```sh (``bash``, ``shell``) blocks run in order in one bash session, so
variables an earlier block sets carry over. A block that must not run says so just before
its fence, in an HTML comment readers do not see: ``<!-- doc-test: skip (the reason) -->``.
Output samples go in ```text / ```json / ```console blocks, which are not run.

Each command runs with its own timeout; curl is a shell function that adds
``--fail-with-body`` (an HTTP error is a failed command) and dumps the answer's headers, so
the HTTP status is known. A command that shows an error on purpose ends with a comment
naming the status it expects, e.g. ``curl ... # 403``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

RUNNABLE = {"sh", "bash", "shell"}
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>\S*)\s*$")
MARKER = re.compile(r"<!--\s*doc-test:(?P<body>.*?)-->")
SKIP = re.compile(r"^\s*skip\s*\((?P<reason>[^)]+)\)\s*$")
EXPECTED_STATUS = re.compile(r"\s#\s*(?P<status>[1-5]\d\d)\b[^'\"]*$")
HTTP_STATUS = re.compile(r"^HTTP/\S+\s+(\d{3})", re.MULTILINE)
DONE = "__doc_test_done__"
OUTPUT_LIMIT = 3000

# curl as the session sees it: the doc's own options, plus a failure on an HTTP error and
# the headers of the answer for the test.
PREAMBLE = """set -o pipefail
curl() { command curl --fail-with-body -D "$DOC_TEST_DIR/headers" "$@"; }
"""


class DocError(ValueError):
    """The markup of a doc's code blocks is wrong (a fence without a language, a marker that
    is not a skip with a reason, a marker before a block that does not run anyway)."""


@dataclass(frozen=True)
class Command:
    line: int  # in the markdown file, 1-based
    text: str

    @property
    def expected_status(self) -> int | None:
        found = EXPECTED_STATUS.search(self.text.splitlines()[-1])
        return int(found["status"]) if found else None


@dataclass(frozen=True)
class Block:
    index: int  # 1-based, among the doc's runnable blocks
    line: int  # of the opening fence
    lang: str
    text: str
    first_line: int  # of the block's first content line
    skip_reason: str | None

    def commands(self) -> list[Command]:
        return split_commands(self.text, self.first_line)


def blocks(markdown: str) -> list[Block]:
    """Every shell block of ``markdown`` (skipped ones included, with their reason)."""
    lines = markdown.splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            if MARKER.search(lines[i]) and not _marker_precedes_fence(lines, i):
                raise DocError(f"line {i + 1}: a doc-test marker must come right before a fence")
            i += 1
            continue
        lang, indent = opening["lang"], len(opening["indent"])
        if not lang:
            raise DocError(f"line {i + 1}: a fence needs a language (sh, text, json, ...)")
        end = i + 1
        while end < len(lines) and not re.match(r"^\s*```\s*$", lines[end]):
            end += 1
        if end == len(lines):
            raise DocError(f"line {i + 1}: the block is never closed")
        body = "\n".join(_dedent(line, indent) for line in lines[i + 1 : end])
        reason = _skip_reason(lines, i)
        if lang in RUNNABLE:
            found.append(Block(len(found) + 1, i + 1, lang, body, i + 2, reason))
        elif reason is not None:
            raise DocError(f"line {i + 1}: a ```{lang} block is not run; it needs no marker")
        i = end + 1
    return found


def _dedent(line: str, indent: int) -> str:
    """A line of a block nested in a list item, without the item's indentation."""
    return line[indent:] if not line[:indent].strip() else line.lstrip()


def _previous_text_line(lines: list[str], index: int) -> int | None:
    i = index - 1
    while i >= 0 and not lines[i].strip():
        i -= 1
    return i if i >= 0 else None


def _marker_precedes_fence(lines: list[str], index: int) -> bool:
    i = index + 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i < len(lines) and FENCE.match(lines[i]) is not None


def _skip_reason(lines: list[str], fence: int) -> str | None:
    previous = _previous_text_line(lines, fence)
    marker = MARKER.search(lines[previous]) if previous is not None else None
    if marker is None:
        return None
    skip = SKIP.match(marker["body"])
    if skip is None:
        raise DocError(f"line {fence}: write the marker as <!-- doc-test: skip (reason) -->")
    return skip["reason"].strip()


def split_commands(text: str, first_line: int) -> list[Command]:
    """The commands of a block: a command ends where bash would run it (quotes closed, no
    trailing backslash or pipe); lines holding only a comment are prose for the reader."""
    commands: list[Command] = []
    pending: list[str] = []
    start = first_line
    for offset, line in enumerate(text.splitlines()):
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if not pending:
            start = first_line + offset
        pending.append(line)
        candidate = "\n".join(pending)
        if not line.rstrip().endswith("\\") and _complete(candidate):
            commands.append(Command(start, candidate))
            pending = []
    if pending:
        raise DocError(f"line {start}: the command never ends:\n" + "\n".join(pending))
    return commands


def _complete(text: str) -> bool:
    checked = subprocess.run(
        ["bash", "-n"], input=text, capture_output=True, text=True, check=False
    )
    return checked.returncode == 0


def substitute(text: str, replacements: Mapping[str, str]) -> str:
    for documented, actual in replacements.items():
        text = text.replace(documented, actual)
    return text


@dataclass(frozen=True)
class Outcome:
    exit_status: int | None  # None: timed out
    http_status: int | None  # of the last answer a curl of the command received
    stdout: str
    stderr: str


class ShellSession:
    """One bash process for a doc; each command's output goes to files of its own."""

    def __init__(self, cwd: Path, env: Mapping[str, str]) -> None:
        self.dir = cwd / ".doc-test"
        self.dir.mkdir()
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**env, "DOC_TEST_DIR": str(self.dir)},
            text=True,
            start_new_session=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._send(PREAMBLE)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with contextlib.suppress(ValueError, OSError):  # closed by close() below
            for line in self.proc.stdout:
                self._lines.put(line)
        self._lines.put("")  # the shell is gone: no command waits for its timeout

    def _send(self, script: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(script)
        self.proc.stdin.flush()

    def run(self, command: str, timeout_s: float) -> Outcome:
        out, err, headers = self.dir / "stdout", self.dir / "stderr", self.dir / "headers"
        headers.unlink(missing_ok=True)
        self._send(
            f'{{ {command}\n}} >"{out}" 2>"{err}" </dev/null\nprintf "%s %s\\n" {DONE} "$?"\n'
        )
        status: int | None = None
        with contextlib.suppress(queue.Empty):
            while status is None:
                line = self._lines.get(timeout=timeout_s)
                if not line:
                    self._lines.put(line)
                    break
                if line.startswith(DONE):
                    status = int(line.split()[1])
        codes = HTTP_STATUS.findall(headers.read_text()) if headers.exists() else []
        return Outcome(
            exit_status=status,
            http_status=int(codes[-1]) if codes else None,
            stdout=out.read_text(errors="replace") if out.exists() else "",
            stderr=err.read_text(errors="replace") if err.exists() else "",
        )

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


@contextlib.contextmanager
def shell_session(cwd: Path, env: Mapping[str, str]) -> Iterator[ShellSession]:
    session = ShellSession(cwd, env)
    try:
        yield session
    finally:
        session.close()


def json_values(text: str) -> list[object]:
    """The JSON values printed one after the other (several curls in one command);
    raises ValueError when the output is not JSON."""
    decoder = json.JSONDecoder()
    values: list[object] = []
    position, text = 0, text.strip()
    while position < len(text):
        value, position = decoder.raw_decode(text, position)
        values.append(value)
        while position < len(text) and text[position].isspace():
            position += 1
    return values


def problems(command: Command, outcome: Outcome) -> list[str]:
    """What is wrong with a command's outcome; empty when it did what the doc says."""
    if outcome.exit_status is None:
        return ["timed out, or the shell exited"]
    expected = command.expected_status
    found: list[str] = []
    if expected is None and outcome.exit_status != 0:
        found.append(f"exit status {outcome.exit_status}")
    if expected is not None:
        if outcome.http_status != expected:
            found.append(f"HTTP {outcome.http_status}, the doc says {expected}")
        if outcome.exit_status not in (0, 22):  # 22: curl --fail-with-body saw an error
            found.append(f"exit status {outcome.exit_status}")
    if outcome.stdout.lstrip().startswith(("{", "[")):
        try:
            values = json_values(outcome.stdout)
        except ValueError as exc:
            found.append(f"the answer is not JSON: {exc}")
        else:
            found += [_capillary_failure(value) for value in values if _capillary_failure(value)]
    return found


def _capillary_failure(value: object) -> str:
    """A Capillary v1.1 answer reports failures with HTTP 200 and ``success: "false"``."""
    response = value.get("response") if isinstance(value, dict) else None
    status = response.get("status") if isinstance(response, dict) else None
    if isinstance(status, dict) and status.get("success") == "false":
        return f"the answer reports a failure: {json.dumps(status)}"
    return ""


def report(doc: str, block: Block, command: Command, outcome: Outcome, found: list[str]) -> str:
    def cut(text: str) -> str:
        return text if len(text) <= OUTPUT_LIMIT else text[:OUTPUT_LIMIT] + "\n[...]"

    return (
        f"{doc}, block {block.index} (line {block.line}), command at line {command.line}:\n"
        f"{command.text}\n-> {'; '.join(found)} (exit {outcome.exit_status}, "
        f"HTTP {outcome.http_status})\nstdout:\n{cut(outcome.stdout)}\n"
        f"stderr:\n{cut(outcome.stderr)}"
    )
