"""How ``make run`` tells ``couponctl`` where its gateway is and which token to send.

The launcher writes ``couponctl.env`` in its data directory: one shell line,
``export COUPONCTL_URL=... COUPONCTL_TOKEN=...``, which a shell can ``source`` and which
``couponctl`` reads when neither its command line nor its environment names the URL or the
token. The data directory is the launcher's: ``STACK_DATA_DIR``, else ``.data`` in the
current directory.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path

FILE_NAME = "couponctl.env"
URL_VARIABLE = "COUPONCTL_URL"
TOKEN_VARIABLE = "COUPONCTL_TOKEN"  # noqa: S105 (a variable's name)
DATA_DIR_VARIABLE = "STACK_DATA_DIR"
DEFAULT_DATA_DIR = ".data"


def export_line(url: str, token: str) -> str:
    """The line to paste into a shell (and the file's content)."""
    return f"export {URL_VARIABLE}={shlex.quote(url)} {TOKEN_VARIABLE}={shlex.quote(token)}"


def write(data_dir: Path, url: str, token: str) -> Path:
    """Writes the file, readable by its owner only (it holds a token); returns its path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / FILE_NAME
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # a file that existed keeps its mode otherwise
        handle.write(export_line(url, token) + "\n")
    return path


def default_data_dir(env: Mapping[str, str]) -> Path:
    """The launcher's data directory when its command line names none."""
    return Path(env.get(DATA_DIR_VARIABLE) or DEFAULT_DATA_DIR)


def default_path(env: Mapping[str, str]) -> Path:
    """Where the launcher writes the file, as ``env`` sets its data directory."""
    return default_data_dir(env) / FILE_NAME


def read(path: Path) -> dict[str, str]:
    """The variables the file's ``export`` lines set; {} when there is no file. Raises
    ``ValueError`` for a line a shell would not parse, ``OSError`` when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        for word in words[1:] if words[:1] == ["export"] else words:
            name, assigned, value = word.partition("=")
            if assigned:
                values[name] = value
    return values
