"""Bodies from seed 003 (Capillary ``POST /v1.1/coupon/redeem``) and seed 000 (CRM
``POST /api/v1/coupon/activate``), shown in the API document."""

from __future__ import annotations

from typing import Any

REDEEM: dict[str, Any] = {
    "root": {
        "coupon": [
            {
                "code": "UZHYF",
                "customer": {"mobile": "9999988886"},
                "transaction": [{"amount": "5000"}],
            }
        ]
    }
}
REDEEMED: dict[str, Any] = {
    "response": {
        "status": {"success": "true", "code": 200, "message": "Success"},
        "coupons": {
            "coupon": {
                "customer": {
                    "mobile": "919999988886",
                    "email": "[email protected]",
                    "external_id": "0000011110",
                },
                "redemption_id": "18956938",
                "code": "UZHYF",
                "discount_code": "uatNightly4",
                "series_code": "844312",
                "series_info": [],
                "is_absolute": "true",
                "coupon_value": "46389",
                "transaction": {"amount": "5000.00", "number": ""},
                "side_effects": [],
                "item_status": {
                    "success": "true",
                    "code": 700,
                    "message": "Coupon processing successful",
                },
            }
        },
    }
}
ACTIVATE: dict[str, Any] = {"code": "123456-789ABC-DEFG", "notifyUser": True}
ACTIVATED: dict[str, Any] = {
    "coupon_id": 1234567,
    "coupon_type": "new-user-promo",
    "subscription_id": 1234345,
    "subscription_type_id": 123,
    "subscription_type_name": "1 month promo subscription",
    "subscription_start_time": "2020-07-02T11:30:00+00:00",
    "subscription_end_time": "2020-08-02T11:30:00+00:00",
}
