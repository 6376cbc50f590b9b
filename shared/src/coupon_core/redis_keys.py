"""Every Redis key the platform uses, in one place (docs/keyspace.md explains the layout).

Redis Cluster runs a script only when all its keys share a slot, so keys carry a hash tag:

* ``{C:<code>}`` - per coupon code: the platform-wide code registry entry.
* ``{S:<seriesId>}`` / ``{P:<promotionCode>}`` - per *limit group* (a series or a
  promotion): the group's facts, the facts of each of its coupons, and every usage counter
  a redemption or an issue of one of its coupons has to check and take. One redemption of
  one coupon therefore touches exactly one slot, and one Lua script takes all its counters
  atomically. A request naming coupons of several groups spans slots; the redemption
  service takes each group's counters in turn and gives back what it took on failure.
* ``gw:...:{<principal, address or account>}`` - the gateway's rate-limit windows, one key
  per script call.

Keys used one at a time (streams, markers, nonces, the customer index) carry no tag.
"""

from __future__ import annotations

from typing import Literal

GroupKind = Literal["S", "P"]

SERIES: GroupKind = "S"
PROMOTION: GroupKind = "P"


def group_ref(kind: GroupKind, ref: str | int) -> str:
    """``S:123`` or ``P:HOLIDAY-SALE``: the value stored in the code registry."""
    return f"{kind}:{ref}"


def group_tag(group: str) -> str:
    """``{S:123}`` from ``S:123``."""
    return "{" + group + "}"


def _escaped_tag(group: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in group_tag(group))


def group_keys_pattern(group: str, kind: str) -> str:
    """A SCAN MATCH pattern for every key of ``group`` under ``kind`` (``r`` redemption, ``i``
    issuance counters), the group's own characters escaped."""
    return f"{_escaped_tag(group)}:{kind}:*"


def group_all_keys_pattern(group: str) -> str:
    """A SCAN MATCH pattern for every key under ``group``'s hash tag: its facts, its
    coupons' facts, and its redemption and issuance counters."""
    return f"{_escaped_tag(group)}:*"


# -- code registry ---------------------------------------------------------------------
def code_owner(code: str) -> str:
    """Holds the group ref that owns ``code``; reserved with SET NX, so a code exists once."""
    return "{C:" + code + "}:owner"


# -- facts published by the owning service ---------------------------------------------
def group_facts(group: str) -> str:
    return group_tag(group) + ":group"


def coupon_facts(group: str, code: str) -> str:
    return group_tag(group) + ":coupon:" + code


def facts_ready(service: str) -> str:
    """Set by an owning service once every fact it owns is published (cleared when Redis
    loses its data, which tells the service to publish everything again)."""
    return f"facts:ready:{service}"


# -- redemption counters (owned by redemption-service, rebuilt from its ledger) -----------
def redeemed_total(group: str) -> str:
    return group_tag(group) + ":r:total"


def redeemed_by_customer(group: str, customer_id: str) -> str:
    return group_tag(group) + ":r:cust:" + customer_id


def redeemed_coupon(group: str, code: str) -> str:
    return group_tag(group) + ":r:coupon:" + code


def redeemed_coupon_by_customer(group: str, code: str, customer_id: str) -> str:
    return group_tag(group) + ":r:cc:" + code + ":" + customer_id


def redemption_warm(group: str) -> str:
    """Present once the group's redemption counters were rebuilt from the ledger."""
    return group_tag(group) + ":r:warm"


# -- issuance counters (owned by issuance-service, rebuilt from its issued coupons) -------
def issued_total(group: str) -> str:
    return group_tag(group) + ":i:issued"


def issued_to_customer(group: str, customer_id: str) -> str:
    return group_tag(group) + ":i:cust:" + customer_id


def last_issued_to_customer(group: str, customer_id: str) -> str:
    return group_tag(group) + ":i:last:" + customer_id


def issuance_warm(group: str) -> str:
    return group_tag(group) + ":i:warm"


# -- customers (owned by issuance-service) -------------------------------------------------
CustomerIdentifier = Literal["id", "mobile", "email", "externalId"]


def customer_index(identifier: CustomerIdentifier, value: str) -> str:
    """Maps a normalised identifier to the customer's id (``id`` maps the id to itself)."""
    return f"customer:{identifier}:{value}"


# -- gateway identities (every service) ---------------------------------------------------
def identity_nonce(nonce: str) -> str:
    """Present while a signed identity with this nonce could still be accepted: a second
    request with it is a replay (:mod:`coupon_core.replay`)."""
    return f"identity:nonce:{nonce}"


# -- events -----------------------------------------------------------------------------
def event_stream(service: str) -> str:
    """Each service publishes its domain events to its own stream."""
    return f"events:{service}"


def relay_alive(service: str) -> str:
    """Set by a service's outbox relay; its absence means Redis lost its data, and the relay
    publishes the retained outbox again (consumers are idempotent)."""
    return f"outbox:relay:{service}"


def stream_gaps(service: str) -> str:
    """Hash of the events the relay of ``service`` trimmed from its stream before a consumer
    group read them, by group, until it has replayed them from the outbox
    (:mod:`coupon_core.stream_gaps`)."""
    return f"events:gaps:{service}"


# -- gateway rate limits and throttling (one-minute windows, gateway/lua/fixed_window.lua) --
def rate_limit_window(kind: str, ident: str) -> str:
    """Requests in the current window of one principal (``kind`` ``api_token``, ``staff``
    or ``user``) or of one client address (``anonymous``)."""
    return f"gw:rl:{{{kind}:{ident}}}"


def auth_failures(address: str) -> str:
    """Failed credential attempts from one client address."""
    return f"gw:authfail:{{{address}}}"


def login_failures(account: str) -> str:
    """Failed logins of one account (a keyed hash of the email, known or not)."""
    return f"gw:loginfail:{{{account}}}"


def login_failures_from(account: str, address: str) -> str:
    """Failed logins of one account from one client address (same slot as the account's)."""
    return f"gw:loginfail:{{{account}}}:{address}"
