"""Bodies from seed 002 (Capillary ``POST /v2/coupon/issue``), shown in the API document."""

from __future__ import annotations

from typing import Any

_IDENTIFIERS = [
    {"type": "mobile", "value": "11223569865"},
    {"type": "externalId", "value": "000003873472"},
]

ISSUE: dict[str, Any] = {
    "seriesId": 544770,
    "customer": {"id": 555567088, "mobile": "", "externalId": "", "email": ""},
}
ISSUED: dict[str, Any] = {
    "code": "ICJE1X12P6",
    "seriesId": 544770,
    "description": "Festival coupon",
    "discountCode": "erg123",
    "validTill": "2026-05-09T00:00:00Z",
    "discountType": "ABS",
    "discountValue": 500.0,
    "discountUpto": 0.0,
    "discountOn": "BILL",
    "detailedInfo": "Evil coupon",
    "customer": {
        "id": 555567088,
        "profiles": [
            {
                "firstName": "Abijith",
                "lastName": "Guptha",
                "fields": {},
                "allFields": {},
                "identifiers": _IDENTIFIERS,
                "commChannels": [],
                "userId": 555567088,
                "accountId": "",
                "autoUpdateTime": "2024-06-25T06:51:13Z",
                "identifiersAll": _IDENTIFIERS,
            }
        ],
    },
    "redemptionCount": 0,
    "id": 0,
    "warnings": [],
}
