"""Fixtures of the CLI's tests (see coupon_dev.cli_fixtures)."""

from coupon_dev.cli_fixtures import ctl, own_directory, platform

__all__ = ["ctl", "own_directory", "platform"]
