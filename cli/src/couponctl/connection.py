"""Which gateway ``couponctl`` talks to, and with which token.

Each of the two is taken from the first place that sets it (an empty value sets nothing):

1. the command line: ``--url``, ``--token``;
2. the environment: ``COUPONCTL_URL``, ``COUPONCTL_TOKEN``;
3. ``couponctl.env``, which ``make run`` writes in its data directory
   (``$STACK_DATA_DIR/couponctl.env``, else ``.data/couponctl.env`` here);
4. the URL http://127.0.0.1:8080; a token has no default.
"""

from __future__ import annotations

from collections.abc import Mapping

from couponctl import env_file
from couponctl.client import DEFAULT_URL, GatewayClient, UsageError


def connect(url: str | None, token: str | None, env: Mapping[str, str]) -> GatewayClient:
    """A client of the gateway that ``--url``/``--token`` (None when not given), ``env``
    and the launcher's file name, in that order."""
    path = env_file.default_path(env)
    url_origin = ""
    if not url:
        url, url_origin = env.get(env_file.URL_VARIABLE), env_file.URL_VARIABLE
    token = token or env.get(env_file.TOKEN_VARIABLE)
    if not url or not token:
        try:
            saved = env_file.read(path)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {path}: {exc}") from None
        if not url:
            url = saved.get(env_file.URL_VARIABLE)
            url_origin = f"{env_file.URL_VARIABLE} from {path}"
        token = token or saved.get(env_file.TOKEN_VARIABLE)
    if not url:
        url, url_origin = DEFAULT_URL, "the default URL; pass --url or set COUPONCTL_URL"
    return GatewayClient(
        url,
        token,
        url_origin=url_origin,
        credentials_hint=f"pass --token or set COUPONCTL_TOKEN (make run writes it to {path})",
    )
