"""The errors: OSError subclasses that carry their data and survive pickling."""

from __future__ import annotations

import pickle
import socket

from hyperhttp_dns import Address, ConnectError, DNSError, ResolveError


def test_resolve_error_is_an_oserror_naming_the_host() -> None:
    """ResolveError carries host, message and errno, and names the host in its text."""
    error = ResolveError("x.test", "Name or service not known", socket.EAI_NONAME)
    assert isinstance(error, DNSError)
    assert isinstance(error, OSError)
    assert (error.host, error.errno) == ("x.test", socket.EAI_NONAME)
    assert "'x.test'" in str(error)
    assert "Name or service not known" in str(error)


def test_connect_error_lists_every_attempt_and_shares_a_common_errno() -> None:
    """ConnectError names each address with its failure; a shared errno is kept."""
    a = Address(socket.AF_INET6, "::1", 80)
    b = Address(socket.AF_INET, "127.0.0.1", 80)
    refused = ConnectError(
        [(a, ConnectionRefusedError(111, "refused")), (b, ConnectionRefusedError(111, "refused"))]
    )
    assert refused.errno == 111
    assert "[::1]:80" in str(refused)
    assert "127.0.0.1:80" in str(refused)
    mixed = ConnectError([(a, OSError(101, "unreachable")), (b, TimeoutError())])
    assert mixed.errno is None
    assert len(mixed.attempts) == 2


def test_errors_pickle() -> None:
    """Both errors survive pickling (multiprocessing, logging handlers)."""
    error = ResolveError("x.test", "Name or service not known", socket.EAI_NONAME)
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
    assert (again.host, again.errno, str(again)) == (error.host, error.errno, str(error))
    address = Address(socket.AF_INET, "127.0.0.1", 80)
    failed = ConnectError([(address, ConnectionRefusedError(111, "refused"))])
    back = pickle.loads(pickle.dumps(failed))  # noqa: S301 (our own bytes)
    assert str(back) == str(failed)
    assert back.attempts[0][0] == address
