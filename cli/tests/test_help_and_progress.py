"""``couponctl``'s help reads as plain text and explains every option; its progress bars
redraw on a terminal and leave one final line anywhere else. No server needed."""

from __future__ import annotations

import argparse
import io
from collections.abc import Iterator

from couponctl.__main__ import build_parser, main
from couponctl.progress import Progress


def _parsers(
    parser: argparse.ArgumentParser, name: str = "couponctl"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_help_is_plain_text() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["--help"], stdout=out, stderr=err, env={}) == 0
    assert "Exit codes" in out.getvalue()
    assert "couponctl.env" in out.getvalue()
    for name, parser in _parsers(build_parser()):
        text = parser.format_help()
        assert "``" not in text, name


def test_every_argument_of_every_command_says_what_it_is() -> None:
    missing = [
        f"{name}: {'/'.join(action.option_strings) or action.dest}"
        for name, parser in _parsers(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        and not action.help
    ]
    assert missing == []


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_off_a_terminal_is_one_final_line() -> None:
    log = io.StringIO()
    progress = Progress("exporting X", 100, log)
    for done in range(101):
        progress.update(done)
    progress.finish(100)
    assert log.getvalue() == f"exporting X [{'#' * 30}] 100% 100/100\n"

    counting = io.StringIO()
    running = Progress("generating Y", None, counting)
    for done in (10, 20, 30):
        running.update(done)
    running.finish(30)
    assert counting.getvalue() == "generating Y: 30\n"


def test_progress_on_a_terminal_redraws_in_place() -> None:
    screen = Terminal()
    progress = Progress("exporting X", 4, screen)
    for done in range(5):
        progress.update(done)
    progress.finish(4)
    shown = screen.getvalue()
    assert shown.count("\r") == 5
    assert shown.endswith(f"\rexporting X [{'#' * 30}] 100% 4/4\n")
