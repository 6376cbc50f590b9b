"""docs/webhooks.md says what the service does: its catalogue is the catalogue, and its
verification by hand accepts exactly what the service signs (as standardwebhooks does)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from standardwebhooks import Webhook
from webhook_service.domain.catalogue import CATALOGUE, EventType, example_body
from webhook_service.domain.secrets import new_secret
from webhook_service.domain.signing import headers as signed_headers

DOC = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
BLOCK = re.compile(r"^```(?P<lang>\w+)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)

Verify = Callable[[str, dict[str, str], bytes], bool]


def _section(heading: str) -> str:
    start = DOC.index(heading + "\n")
    end = DOC.find("\n#", start + len(heading))
    return DOC[start : end if end != -1 else len(DOC)]


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda entry: entry.type)
def test_each_type_is_documented_with_its_fields_and_example(entry: EventType) -> None:
    section = _section(f"### `{entry.type}`")
    for field in entry.example:
        assert f"`{field}`" in section, field
    examples = [m["body"] for m in BLOCK.finditer(section) if m["lang"] == "json"]
    assert [json.loads(body) for body in examples] == [example_body(entry)]


def _documented_verify() -> Verify:
    code = next(m["body"] for m in BLOCK.finditer(_section("### By hand")) if m["lang"] == "python")
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 (the docs' own example)
    return cast(Verify, namespace["verify"])


def test_the_documented_verification_accepts_what_the_service_signs() -> None:
    verify = _documented_verify()
    old, new, other = new_secret(), new_secret(), new_secret()
    body = json.dumps(example_body(CATALOGUE[0])).encode()
    now = int(time.time())
    sent = signed_headers([new, old], msg_id="evt_redemption_1042", timestamp=now, body=body)
    for secret in (new, old):  # both valid during a rotation's grace period
        assert verify(secret, sent, body)
        assert Webhook(secret).verify(body, sent) == json.loads(body)
    assert not verify(other, sent, body)
    assert not verify(new, sent, body.replace(b"5000", b"5001"))
    stale = signed_headers([new], msg_id="evt_redemption_1042", timestamp=now - 600, body=body)
    assert not verify(new, stale, body)
