"""A typed client generated from the live ``/openapi.json`` (openapi-python-client, the
command docs/api-clients.md gives) runs the seeds' journeys through the gateway: create a
promotion and a coupon, create a series, issue to a customer, dry-run, redeem, reverse,
activate with a user token. Every answer parses into its generated model (not None, not a
raw dict), and the model holds exactly what was sent: nothing undeclared, nothing lost.

The client is generated into a temporary directory, offline, and never committed."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest
import requests
from coupon_dev.stack import Stack
from couponctl.demo import SUBSCRIPTION_PROMOTION
from support.api import mobile, unique
from support.stacks import ADMIN_TOKEN

PACKAGE = "coupon_client"
# docs/api-clients.md's configuration and command, word for word.
CONFIG = "content_type_overrides:\n  image/png: application/octet-stream\n"
GENERATE_TIMEOUT_S = 120


def generate(document: bytes, into: Path) -> Path:
    """The client package generated from ``document`` under ``into``."""
    (into / "openapi.json").write_bytes(document)
    (into / "client-config.yaml").write_text(CONFIG)
    # The generator formats its output with the ruff installed beside it.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "openapi-python-client"),
            "generate",
            "--path",
            "openapi.json",
            "--config",
            "client-config.yaml",
            "--meta",
            "none",
            "--output-path",
            PACKAGE,
            "--overwrite",
            "--fail-on-warning",
        ],
        cwd=into,
        env={**os.environ, "PATH": path},
        check=True,
        capture_output=True,
        timeout=GENERATE_TIMEOUT_S,
    )
    return into / PACKAGE


@pytest.fixture(scope="module")
def client(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    answer = requests.get(f"{stack.gateway_url}/openapi.json", timeout=30)
    assert answer.status_code == 200
    assert "OpenAPI-Unavailable" not in answer.headers, answer.headers["OpenAPI-Unavailable"]
    root = tmp_path_factory.mktemp("generated-client")
    try:
        generate(answer.content, root)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"generation failed:\n{exc.stdout.decode()}\n{exc.stderr.decode()}")
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def operation(tag: str, name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")


def model(name: str) -> Any:
    return getattr(importlib.import_module(f"{PACKAGE}.models"), name)


def undeclared(value: Any, where: str = "") -> list[str]:
    """Fields the answer carried that its model does not declare (a free-form map, a model
    that declares no field, may hold anything)."""
    found: list[str] = []
    if isinstance(value, list):
        for index, item in enumerate(value):
            found += undeclared(item, f"{where}[{index}]")
    elif attrs.has(type(value)):
        declared = [f for f in attrs.fields(type(value)) if f.name != "additional_properties"]
        extra = getattr(value, "additional_properties", {})
        if declared and extra:
            found.append(f"{where or type(value).__name__}: {sorted(extra)}")
        for field in declared:
            found += undeclared(getattr(value, field.name), f"{where}.{field.name}")
    return found


def parsed(response: Any, status: int, name: str) -> Any:
    """The answer, checked: the expected status, parsed into the generated model ``name``,
    which gives back exactly the JSON that was sent."""
    assert response.status_code == status, response.content
    value = response.parsed
    assert type(value).__name__ == name, (name, value)
    assert type(value).__module__.startswith(f"{PACKAGE}.models."), type(value)
    assert value.to_dict() == json.loads(response.content)
    assert undeclared(value) == []
    return value


def test_generated_client_runs_the_seed_journeys(client: ModuleType, stack: Stack) -> None:
    admin = client.AuthenticatedClient(base_url=stack.gateway_url, token=ADMIN_TOKEN)

    # Seed 000 and 001: a coupon-based promotion that grants a subscription, and a coupon.
    promotion_code = unique("GEN-").upper()
    promotion = parsed(
        operation("promotions", "post_api_v1_promotions").sync_detailed(
            client=admin,
            body=model("PromotionForm").from_dict(
                {**SUBSCRIPTION_PROMOTION, "code": promotion_code}
            ),
        ),
        201,
        "PromotionOut",
    )
    assert promotion.code == promotion_code
    coupons = "promotion_coupons"
    coupon_code = unique("A").upper()
    coupon = parsed(
        operation(coupons, "post_api_v1_promotions_promotion_coupons").sync_detailed(
            promotion_code,
            client=admin,
            body=model("NewCouponForm").from_dict({"code": coupon_code, "usageLimit": 10}),
        ),
        201,
        "PromotionCouponOut",
    )
    assert coupon.code == coupon_code
    parsed(
        operation(coupons, "get_api_v1_promotions_promotion_coupons_coupon").sync_detailed(
            promotion_code, coupon_code, client=admin
        ),
        200,
        "PromotionCouponOut",
    )
    page = parsed(
        operation(coupons, "get_api_v1_promotions_promotion_coupons").sync_detailed(
            promotion_code, client=admin
        ),
        200,
        "PromotionCouponPageOut",
    )
    assert [item.code for item in page.field_embedded.items] == [coupon_code]
    parsed(
        operation(coupons, "get_api_v1_promotions_promotion_coupons_coupon").sync_detailed(
            promotion_code, "NO-SUCH-COUPON", client=admin
        ),
        404,
        "SyliusError",
    )

    # Seed 002: a series, and one of its coupons issued to a customer known by mobile.
    series = parsed(
        operation("series", "post_v2_coupon_series").sync_detailed(
            client=admin,
            body=model("SeriesIn").from_dict(
                {
                    "description": "Festival coupon",
                    "discountCode": unique("erg"),
                    "discountType": "ABS",
                    "discountValue": 500,
                    "detailedInfo": "Evil coupon",
                    "validTillDate": "2099-05-09T00:00:00Z",
                }
            ),
        ),
        201,
        "SeriesOut",
    )
    customer_mobile = mobile()
    issued = parsed(
        operation("issue", "post_v2_coupon_issue").sync_detailed(
            client=admin,
            body=model("IssueIn").from_dict(
                {
                    "seriesId": series.id,
                    "customer": {"mobile": customer_mobile, "externalId": "", "email": ""},
                }
            ),
        ),
        200,
        "IssuedCouponOut",
    )
    assert issued.series_id == series.id
    parsed(
        operation("issue", "post_v2_coupon_issue").sync_detailed(
            client=admin,
            body=model("IssueIn").from_dict({"seriesId": 2_000_000_000, "customer": {"id": 1}}),
        ),
        404,
        "CapillaryV2Error",
    )

    # Seed 003: dry runs, the redeem, and its reversal.
    dry = parsed(
        operation("redemption", "get_v1_1_coupon_isredeemable").sync_detailed(
            client=admin, code=issued.code, mobile=customer_mobile, amount="5000"
        ),
        200,
        "IsRedeemableOut",
    )
    assert dry.response.coupons.redeemable.item_status.code == 700
    dry_v2 = parsed(
        operation("redemption", "get_v2_coupon_is_redeemable").sync_detailed(
            client=admin, code=issued.code, mobile=customer_mobile, amount="5000"
        ),
        200,
        "IsRedeemableV2Out",
    )
    assert dry_v2.redemption[0].is_redeemable is True
    redeem_body = {
        "root": {
            "coupon": [
                {
                    "code": issued.code,
                    "customer": {"mobile": customer_mobile},
                    "transaction": [{"number": unique("T-"), "amount": "5000"}],
                }
            ]
        }
    }
    redeemed = parsed(
        operation("redemption", "post_v1_1_coupon_redeem").sync_detailed(
            client=admin, body=model("RedeemIn").from_dict(redeem_body)
        ),
        200,
        "RedeemOut",
    )
    item = redeemed.response.coupons.coupon
    assert item.item_status.code == 700, redeemed
    assert item.coupon_value == "500"
    parsed(
        operation("redemption", "post_v1_1_coupon_redeem").sync_detailed(
            client=admin, body=model("RedeemIn").from_dict({"root": {"coupon": []}})
        ),
        400,
        "CapillaryV11Error",
    )
    reversal = parsed(
        operation("redemption", "post_v2_coupon_redemptions_redemption_id_reverse").sync_detailed(
            item.redemption_id,
            client=admin,
            body=model("ReverseIn").from_dict({"reason": "order cancelled"}),
        ),
        200,
        "ReversalOut",
    )
    assert reversal.reversal.reversed_ is True

    # Seed 000: a user registers, logs in, and activates the subscription coupon.
    anonymous = client.Client(base_url=stack.gateway_url)
    email = f"{unique('reader')}@example.com"
    credentials = {"email": email, "password": "correct horse battery staple"}
    parsed(
        operation("users", "post_api_v1_users_register").sync_detailed(
            client=anonymous, body=model("Register").from_dict(credentials)
        ),
        201,
        "RegisteredOut",
    )
    login = parsed(
        operation("users", "post_api_v1_users_login").sync_detailed(
            client=anonymous, body=model("Login").from_dict(credentials)
        ),
        200,
        "LoginOut",
    )
    user = client.AuthenticatedClient(base_url=stack.gateway_url, token=login.access.token)
    activate = operation("activation", "post_api_v1_coupon_activate")
    activated = parsed(
        activate.sync_detailed(
            client=user,
            body=model("ActivateIn").from_dict({"code": coupon_code, "notifyUser": True}),
        ),
        200,
        "ActivationOut",
    )
    assert activated.coupon_type == promotion_code
    granted = SUBSCRIPTION_PROMOTION["actions"][0]["configuration"]
    assert activated.subscription_type_id == granted["subscriptionTypeId"]
    again = parsed(
        activate.sync_detailed(
            client=user, body=model("ActivateIn").from_dict({"code": coupon_code})
        ),
        400,
        "CrmError",
    )
    assert again.code == "coupon_already_used"
    subscriptions = parsed(
        operation("activation", "get_api_v1_users_subscriptions").sync_detailed(client=user),
        200,
        "SubscriptionsOut",
    )
    assert [s.id for s in subscriptions.subscriptions] == [activated.subscription_id]
