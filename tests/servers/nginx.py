"""The nginx fixture: TLS + HTTP/2 on a loopback port, GOAWAY every 100 requests.

When nginx is not installed the tests are skipped with the reason, except
under CI (``CI`` set), where ``.ci/run`` installs it and a missing nginx fails.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from tests.servers.nginx_proc import Nginx, nginx_binary, start_nginx, stop_nginx

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.servers.fixtures import TLSSetup


def require_nginx() -> str:
    """Return nginx's path; without it skip the test, or fail it under CI."""
    binary = nginx_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed; .ci/run installs it (apt-get install nginx-light)")
        pytest.skip("nginx is not installed (apt-get install nginx-light to run these tests)")
    return binary


@pytest.fixture(scope="session")
def nginx(tls: TLSSetup, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    """Serve /size/200, /size/10240 and /size/1048576 with nginx over TLS + HTTP/2."""
    require_nginx()
    root = tmp_path_factory.mktemp("nginx")
    cert_path, key_path = tls.cert_files(root)
    server = start_nginx(root, cert_path, key_path)
    try:
        yield server
    finally:
        stop_nginx(server.process)
