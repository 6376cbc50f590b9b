"""Every shell example of README.md and docs/*.md runs, in order, against the stack
``make run`` gives (demo data loaded), and answers what the doc shows: no HTTP error unless
the command names the status it expects, JSON where JSON comes back, and no Capillary
answer that reports a failure. How blocks are read and run: support/doc_examples.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from coupon_dev.stack import Stack
from support.doc_examples import (
    Block,
    Command,
    DocError,
    Outcome,
    ShellSession,
    blocks,
    problems,
    report,
    shell_session,
    substitute,
)
from support.stacks import ADMIN_TOKEN, demo_stack

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
DOCUMENTED_URL = "http://127.0.0.1:8080"
DOCUMENTED_TOKEN = "demo-admin-token-change-me"
COMMAND_TIMEOUT_S = 90
DOC_TIMEOUT_S = 400


@pytest.fixture(scope="module")
def make_run_stack() -> Iterator[Stack]:
    with demo_stack() as running:
        yield running


def _doc_blocks(doc: str) -> list[Block]:
    try:
        return blocks((ROOT / doc).read_text())
    except DocError as exc:
        raise AssertionError(f"{doc}: {exc}") from exc


@pytest.mark.parametrize("doc", DOCS)
def test_code_blocks_are_marked_up_so_the_doc_test_can_read_them(doc: str) -> None:
    for block in _doc_blocks(doc):
        if block.skip_reason is None:
            assert block.commands(), f"{doc}, block {block.index} (line {block.line}) is empty"


@pytest.mark.timeout(DOC_TIMEOUT_S)
@pytest.mark.parametrize("doc", DOCS)
def test_shell_examples_run_against_the_demo_stack(
    make_run_stack: Stack, doc: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = make_run_stack.gateway_url
    replacements = {DOCUMENTED_URL: url, DOCUMENTED_TOKEN: ADMIN_TOKEN}
    env = {
        **os.environ,
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "COUPONCTL_URL": url,
        "COUPONCTL_TOKEN": ADMIN_TOKEN,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    # Examples write files (exports) where they run: a directory of the test's own, which
    # sees the repository's .venv as the docs do.
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    with shell_session(tmp_path, env) as session:
        failures, ran, skipped = _run_doc(doc, session, replacements)
    with capsys.disabled():
        for line in skipped:
            print(f"\n{line}", end="")
    assert not failures, f"{len(failures)} of {ran} commands failed:\n\n" + "\n\n".join(failures)


def _run_doc(
    doc: str, session: ShellSession, replacements: dict[str, str]
) -> tuple[list[str], int, list[str]]:
    """Failure reports, the number of commands run, and the blocks not run (with why)."""
    failures: list[str] = []
    skipped: list[str] = []
    ran = 0
    for block in _doc_blocks(doc):
        if block.skip_reason is not None:
            skipped.append(f"{doc}: block {block.index} (line {block.line}) not run: "
                           f"{block.skip_reason}")  # fmt: skip
            continue
        for command in block.commands():
            outcome = session.run(substitute(command.text, replacements), COMMAND_TIMEOUT_S)
            ran += 1
            found = problems(command, outcome)
            if found:
                failures.append(report(doc, block, command, outcome, found))
            if outcome.exit_status is None:  # the session is stuck: the rest cannot run
                return failures, ran, skipped
    return failures, ran, skipped


def test_a_command_ends_where_bash_would_run_it() -> None:
    text = (
        "# prose for the reader\n"
        "A=$(curl -s x \\\n  | python3 -c 'import sys')\n"
        "curl -s -d '{\n  \"a\": 1}' y   # 403\n"
        "\n"
        "echo done\n"
    )
    commands = blocks(f"```sh\n{text}```\n")[0].commands()
    assert [(c.line, c.text.splitlines()[0]) for c in commands] == [
        (3, "A=$(curl -s x \\"),
        (5, "curl -s -d '{"),
        (8, "echo done"),
    ]
    assert [c.expected_status for c in commands] == [None, 403, None]


@pytest.mark.parametrize(
    "markdown",
    [
        "```\nls\n```\n",
        "<!-- doc-test: skip -->\n```sh\nls\n```\n",
        "<!-- doc-test: skip (output) -->\n```text\nls\n```\n",
        "<!-- doc-test: skip (why) -->\n\nprose\n```sh\nls\n```\n",
        "```sh\nls\n",
    ],
)
def test_markup_the_doc_test_cannot_read_is_an_error(markdown: str) -> None:
    with pytest.raises(DocError):
        blocks(markdown)


def test_a_skipped_block_carries_its_reason() -> None:
    (block,) = blocks("<!-- doc-test: skip (needs Docker) -->\n\n```sh\ndocker ps\n```\n")
    assert block.skip_reason == "needs Docker"


@pytest.mark.parametrize(
    ("command", "outcome", "failed"),
    [
        ("curl -s x", Outcome(0, 200, '{"a": 1}', ""), False),
        ("curl -s x", Outcome(22, 403, '{"code": 403}', ""), True),
        ("curl -s x  # 403", Outcome(22, 403, "", ""), False),
        ("curl -s x  # 403", Outcome(0, 200, "", ""), True),
        ("curl -s x", Outcome(0, 200, '{"a": ', ""), True),
        ("curl -s x", Outcome(0, 200, '{"response": {"status": {"success": "false"}}}', ""), True),
        ("curl -s x", Outcome(0, 200, '{"response": {"status": {"success": "true"}}}', ""), False),
        ("sleep 100", Outcome(None, None, "", ""), True),
    ],
)
def test_a_command_fails_on_an_error_the_doc_does_not_show(
    command: str, outcome: Outcome, failed: bool
) -> None:
    assert bool(problems(Command(1, command), outcome)) is failed


def test_a_session_keeps_variables_and_reports_each_command(tmp_path: Path) -> None:
    with shell_session(tmp_path, os.environ) as session:
        assert session.run("GREETING=$(echo hello)", 30).exit_status == 0
        said = session.run('echo "$GREETING"; echo oops >&2; false', 30)
        assert (said.exit_status, said.stdout, said.stderr) == (1, "hello\n", "oops\n")
        gone = session.run("exit 3", 30)
        assert gone.exit_status is None
