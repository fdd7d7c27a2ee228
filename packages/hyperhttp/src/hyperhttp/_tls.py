"""TLS contexts: built once per configuration and reused by every connection."""

from __future__ import annotations

import os
import ssl
from functools import lru_cache

__all__ = ["VerifyTypes", "ssl_context"]

VerifyTypes = bool | str | os.PathLike[str] | ssl.SSLContext


@lru_cache(maxsize=16)
def _context(verify: bool | str, alpn: tuple[str, ...], trust_env: bool) -> ssl.SSLContext:
    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        cafile: str | None = None
        if isinstance(verify, str):
            cafile = verify
        elif trust_env and os.environ.get("SSL_CERT_FILE"):
            cafile = os.environ["SSL_CERT_FILE"]
        if cafile is None:
            import certifi

            cafile = certifi.where()
        if os.path.isdir(cafile):
            context = ssl.create_default_context(capath=cafile)
        else:
            if not os.path.exists(cafile):
                raise FileNotFoundError(f"verify: no CA bundle at {cafile!r}")
            context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


def ssl_context(
    verify: VerifyTypes, alpn: tuple[str, ...] = ("http/1.1",), *, trust_env: bool = True
) -> ssl.SSLContext:
    """Return the client context for ``verify`` (True: certifi's CA bundle).

    Args:
        verify: True, False, a CA file or directory path, or your own context
            (used as is; ALPN is yours to set).
        alpn: protocols offered through ALPN.
        trust_env: honour ``SSL_CERT_FILE`` when ``verify`` is True.

    """
    if isinstance(verify, ssl.SSLContext):
        return verify
    if isinstance(verify, os.PathLike):
        verify = os.fspath(verify)
    if not isinstance(verify, bool | str):
        raise TypeError(f"verify must be a bool, a path or an ssl.SSLContext, not {verify!r}")
    return _context(verify, alpn, trust_env)
