"""Fixtures of the CLI's tests (see couponctl.testing)."""

from couponctl.testing import ctl, own_directory, platform

__all__ = ["ctl", "own_directory", "platform"]
