"""The API's validation errors in the words a person filling a console form reads.

The services validate with pydantic, whose messages are written for programmers ("List
should have at least 1 item after validation, not 0", "String should match pattern
'^[^@\\s]{1,64}@...'"); the Sylius family's are already sentences. :func:`plain` rewrites
the former (the API's answers themselves are left as they are), :func:`placed` puts an
error about the whole body that names a field on that field, and :func:`field_label` names
a field in words where a page has no label for it (the errors summary).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str], str], str]]


def _plural(count: str, one: str, many: str) -> str:
    return f"{count} {one if count == '1' else many}"


def _pattern(_: re.Match[str], name: str) -> str:
    if "email" in name.lower():
        return "Enter an email address, such as name@example.com."
    return "This is not in the form expected here."


_RULES: tuple[_Rule, ...] = tuple(
    (re.compile(pattern, re.IGNORECASE | re.DOTALL), words)
    for pattern, words in (
        (r"^Field required$", lambda m, n: "Required: fill this in."),
        (r"^String should have at least 1 character$", lambda m, n: "Required: fill this in."),
        (
            r"^String should have at least (\d+) characters?$",
            lambda m, n: f"Use at least {_plural(m[1], 'character', 'characters')}.",
        ),
        (
            r"^String should have at most (\d+) characters?$",
            lambda m, n: f"Use at most {_plural(m[1], 'character', 'characters')}.",
        ),
        (r"^String should match pattern .*$", _pattern),
        (r"^Input should be a valid integer.*$", lambda m, n: "Enter a whole number."),
        (r"^Input should be a valid (?:number|decimal).*$", lambda m, n: "Enter a number."),
        (
            r"^Input should be greater than or equal to (\S+)$",
            lambda m, n: f"Enter {m[1]} or more.",
        ),
        (r"^Input should be greater than (\S+)$", lambda m, n: f"Enter more than {m[1]}."),
        (r"^Input should be less than or equal to (\S+)$", lambda m, n: f"Enter {m[1]} or less."),
        (r"^Input should be less than (\S+)$", lambda m, n: f"Enter less than {m[1]}."),
        (
            r"^List should have at least 1 item\b.*$",
            lambda m, n: "Choose at least one.",
        ),
        (r"^List should have at least (\d+) items\b.*$", lambda m, n: f"Choose at least {m[1]}."),
        (r"^List should have at most (\d+) items?\b.*$", lambda m, n: f"Choose at most {m[1]}."),
        (
            r"^Input should be a valid datetime.*$",
            lambda m, n: "Enter a date and time, such as 2030-01-31T12:00.",
        ),
        (r"^Input should be a valid date\b.*$", lambda m, n: "Enter a date, such as 2030-01-31."),
        (r"^Input should be a valid boolean.*$", lambda m, n: "Choose yes or no."),
        (r"^Input should be a valid URL.*$", lambda m, n: "Enter a URL, such as https://…"),
        (r"^Input should be ('.+)$", lambda m, n: f"Choose {m[1]}."),
    )
)
_PREFIXES = ("Value error, ", "Assertion failed, ")


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def plain(message: str, name: str = "") -> str:
    """``message`` (the API's error for the field ``name``) as a person reads it."""
    text = message.strip()
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            return _sentence(text[len(prefix) :])
    for pattern, words in _RULES:
        match = pattern.match(text)
        if match:
            return words(match, name)
    return text


def placed(fields: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """``fields`` with each error on a name the form does not have (``body``: the request
    as a whole) moved to the form's field its message starts with, when it names one
    ("discountValue of a PERC series is a percentage, 0 to 100")."""
    known = sorted(set(names), key=len, reverse=True)
    moved: dict[str, str] = {}
    for name, text in fields.items():
        target = name
        if name not in known:
            for candidate in known:
                head = re.match(rf"{re.escape(candidate)}\b", text, re.IGNORECASE)
                if head:
                    target = candidate
                    text = field_label(candidate) + text[head.end() :]
                    break
        moved[target] = f"{moved[target]} {text}" if target in moved else text
    return moved


_ACRONYMS = {"url": "URL", "csv": "CSV", "api": "API"}
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[._\[\]-]+")


def field_label(name: str) -> str:
    """A field's name in words: ``validTillDate`` -> "Valid till date", ``url`` -> "URL"."""
    words = [w for w in _HUMP.split(name) if w]
    if not words:
        return name
    shown = [_ACRONYMS.get(w.lower(), w.lower()) for w in words]
    first = shown[0]
    shown[0] = first if first.isupper() else first[0].upper() + first[1:]
    return " ".join(shown)
