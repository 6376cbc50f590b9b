"""The console's promotion form read into the API's JSON (strict types) and back."""

from __future__ import annotations

from gateway.console.pages.promotion_form import (
    coupon_body,
    generate_body,
    promotion_body,
    promotion_fields,
)


def test_numbers_are_typed_as_the_api_takes_them() -> None:
    parsed = promotion_body(
        {
            "name": "Sale",
            "priority": "-2",
            "usageLimit": "",
            "item_total_amount": "49.90",
            "nth_order_nth": "3",
            "percentage": "12.5",
            "fixed_amount": "5",
        },
        with_code=False,
    )
    assert parsed.errors == {}
    assert parsed.body["priority"] == -2
    assert parsed.body["usageLimit"] is None
    assert parsed.body["rules"] == [
        {"type": "item_total", "configuration": {"amount": 49.9}},
        {"type": "nth_order", "configuration": {"nth": 3}},
    ]
    assert parsed.body["actions"] == [
        {"type": "order_percentage_discount", "configuration": {"percentage": 0.125}},
        {"type": "order_fixed_discount", "configuration": {"amount": 5}},
    ]


def test_blank_fields_are_no_rule_no_action_and_defaults() -> None:
    parsed = promotion_body({"code": " X ", "name": "Sale", "channels": " , "}, with_code=True)
    assert parsed.body == {
        "code": "X",
        "name": "Sale",
        "description": None,
        "priority": None,
        "exclusive": False,
        "usageLimit": None,
        "startsAt": None,
        "endsAt": None,
        "couponBased": False,
        "channels": [],
        "rules": [],
        "actions": [],
    }


def test_text_where_a_number_belongs_names_the_field() -> None:
    parsed = promotion_body(
        {
            "name": "Sale",
            "usageLimit": "1e3",
            "priority": "two",
            "item_total_amount": "NaN",
            "percentage": "-1",
            "grant_type_name": "Gold",
        },
        with_code=False,
    )
    assert parsed.body == {}
    assert parsed.errors == {
        "usageLimit": "Enter a whole number.",
        "priority": "Enter a whole number.",
        "item_total_amount": "Enter a number.",
        "percentage": "Enter a percentage from 0 to 100.",
        "grant_type_id": "Enter the subscription type's id.",
        "grant_length_days": "Enter the subscription's length in days.",
    }


def test_a_grant_needs_its_three_fields() -> None:
    parsed = promotion_body(
        {"name": "S", "grant_type_id": "7", "grant_type_name": "Gold", "grant_length_days": "30"},
        with_code=False,
    )
    assert parsed.body["actions"] == [
        {
            "type": "grant_subscription",
            "configuration": {
                "subscriptionTypeId": 7,
                "subscriptionTypeName": "Gold",
                "lengthDays": 30,
            },
        }
    ]


def test_the_edit_form_shows_what_the_api_stores() -> None:
    fields = promotion_fields(
        {
            "code": "S",
            "name": "Sale",
            "priority": 0,
            "exclusive": True,
            "couponBased": False,
            "startsAt": "2030-03-01T09:30:00+0100",
            "channels": ["web", "mobile"],
            "rules": [{"type": "item_total", "configuration": {"amount": 49.9}}],
            "actions": [
                {"type": "order_percentage_discount", "configuration": {"percentage": 0.07}}
            ],
        }
    )
    assert fields["priority"] == "0"
    assert fields["exclusive"] == "on"
    assert fields["couponBased"] == ""
    assert fields["startsAt"] == "2030-03-01T09:30"
    assert fields["endsAt"] == ""
    assert fields["channels"] == "web, mobile"
    assert fields["item_total_amount"] == "49.9"
    assert fields["percentage"] == "7"
    assert fields["fixed_amount"] == ""
    # Read back, the form is the same promotion.
    again = promotion_body({**fields, "name": "Sale"}, with_code=False).body
    assert again["actions"][0]["configuration"]["percentage"] == 0.07
    assert again["startsAt"] == "2030-03-01T09:30"


def test_coupon_and_generate_bodies() -> None:
    assert coupon_body({"code": "C", "usageLimit": "3"}, with_code=True).body == {
        "code": "C",
        "usageLimit": 3,
        "perCustomerUsageLimit": None,
        "expiresAt": None,
    }
    # A generation leaves out what is blank, so the API's defaults apply.
    assert generate_body({"amount": "50", "codeLength": "", "prefix": "G-"}).body == {
        "amount": 50,
        "prefix": "G-",
    }
    assert generate_body({"amount": "fifty"}).errors == {"amount": "Enter a whole number."}
