"""Bodies from seed 001 (the Sylius promotion coupons API), shown in the API document."""

from __future__ import annotations

from typing import Any

_HOLIDAY_SALE = "/api/v1/promotions/HOLIDAY-SALE"
_LIST = f"{_HOLIDAY_SALE}/coupons/?sorting%5Bcode%5D=desc&page=1&limit=4"

NEW_COUPON: dict[str, Any] = {
    "code": "A8BAB",
    "expiresAt": "2020-01-01",
    "usageLimit": 10,
    "perCustomerUsageLimit": 1,
}
COUPON_CREATED: dict[str, Any] = {
    "id": 6,
    "code": "A8BAB",
    "usageLimit": 10,
    "used": 0,
    "expiresAt": "2020-01-01T00:00:00+0100",
    "createdAt": "2017-03-06T13:15:27+0100",
    "updatedAt": "2017-03-06T13:15:27+0100",
    "perCustomerUsageLimit": 1,
    "_links": {
        "self": {"href": f"{_HOLIDAY_SALE}/coupons/A8BAB"},
        "promotion": {"href": _HOLIDAY_SALE},
    },
}
COUPON_WITHOUT_CODE: dict[str, Any] = {
    "code": 400,
    "message": "Validation Failed",
    "errors": {
        "children": {
            "usageLimit": {},
            "expiresAt": {},
            "perCustomerUsageLimit": {},
            "code": {"errors": ["Please enter coupon code."]},
        }
    },
}
COUPON: dict[str, Any] = {
    "id": 5,
    "code": "A3BCB",
    "used": 0,
    "createdAt": "2017-03-06T13:14:19+0100",
    "updatedAt": "2017-03-06T13:14:19+0100",
    "_links": {
        "self": {"href": f"{_HOLIDAY_SALE}/coupons/A3BCB"},
        "promotion": {"href": _HOLIDAY_SALE},
    },
}
COUPON_PAGE: dict[str, Any] = {
    "page": 1,
    "limit": 4,
    "pages": 1,
    "total": 2,
    "_links": {"self": {"href": _LIST}, "first": {"href": _LIST}, "last": {"href": _LIST}},
    "_embedded": {
        "items": [
            {
                "id": 5,
                "code": "A3BCB",
                "used": 0,
                "_links": {"self": {"href": f"{_HOLIDAY_SALE}/coupons/A3BCB"}},
            },
            {
                "id": 6,
                "code": "A8BAB",
                "usageLimit": 10,
                "used": 0,
                "expiresAt": "2020-01-01T00:00:00+0100",
                "_links": {"self": {"href": f"{_HOLIDAY_SALE}/coupons/A8BAB"}},
            },
        ]
    },
}
FULL_UPDATE: dict[str, Any] = {
    "expiresAt": "2020-01-01",
    "usageLimit": 30,
    "perCustomerUsageLimit": 2,
}
PARTIAL_UPDATE: dict[str, Any] = {"usageLimit": 30}
