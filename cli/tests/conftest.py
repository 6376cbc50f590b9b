"""Fixtures of the CLI's tests (see couponctl.testing)."""

from couponctl.testing import ctl, platform

__all__ = ["ctl", "platform"]
