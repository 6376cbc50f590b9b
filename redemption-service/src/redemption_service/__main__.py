"""`python -m redemption_service [serve|migrate|reconcile]`: the only place that reads the
environment."""

from __future__ import annotations

from coupon_core.scripts import load_scripts
from coupon_core.settings import load_settings
from coupon_core.web import main, reconcile_command

from redemption_service.app import MIGRATIONS_DIR, SERVICE, create_app, lua_dir
from redemption_service.counters import Counters
from redemption_service.settings import Settings
from redemption_service.usecases.reconcile import reconcile


def run() -> None:
    main(
        service=SERVICE,
        load=lambda: load_settings(Settings),
        create_app=create_app,  # type: ignore[arg-type]
        migrations_dir=MIGRATIONS_DIR,
        extra_commands={
            "reconcile": reconcile_command(
                lambda pool, redis: reconcile(
                    pool, Counters(redis, load_scripts(redis, lua_dir())), None
                )
            )
        },
    )


if __name__ == "__main__":
    run()
