"""The options one ``send`` runs with: the client's settings and the call's overrides.

Strategy
--------
:class:`SendOptions` is frozen: the layers read it and never change it. A
call that overrides nothing (the common case) runs with the client's own
options, built once per ``stream`` value (:func:`client_options`) and built
again only after one of :data:`OPTION_NAMES` is set on the client
(``Client.__setattr__``, which checks the value as the argument would be:
:func:`checked`). A call with overrides gets its own (:func:`call_options`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._auth import Auth, coerce_auth
from ._build import UNSET
from ._config import Timeout
from ._deadline import check_deadline_header
from ._hedge import check_hedging
from ._limit import check_limiter
from ._resilience import check_breaker, check_policy

if TYPE_CHECKING:
    from collections.abc import Callable

    import hyperhttp_resilience

    from ._auth import AuthTypes
    from ._client import Client
    from ._limit import Limiter

__all__ = ["OPTION_NAMES", "SendOptions", "call_options", "checked", "client_options"]

_CHECKS: dict[str, Callable[[Any], Any]] = {
    "timeout": Timeout.coerce,
    "retry": check_policy,
    "circuit_breaker": check_breaker,
    "auth": coerce_auth,
    "limiter": check_limiter,
    "deadline_header": check_deadline_header,
    "hedging": check_hedging,
}


#: SendOptions' fields, in order.
_FIELDS = (
    "timeouts",
    "stream",
    "follow_redirects",
    "max_redirects",
    "retry",
    "circuit_breaker",
    "auth",
    "limiter",
    "deadline_header",
    "hedging",
)
#: The client attributes SendOptions are built from (``timeout`` becomes ``timeouts``;
#: ``stream`` is the call's own).
OPTION_NAMES = frozenset({"timeout", *_FIELDS[2:]})


class SendOptions:
    """What one ``send`` call runs with: the client's settings and the call's overrides.

    Frozen (setting an attribute raises ``AttributeError``). A slotted class,
    not a NamedTuple: the layers read its fields on every request, and a slot
    is read faster than a tuple field.
    """

    __slots__ = (
        "auth",
        "circuit_breaker",
        "deadline_header",
        "follow_redirects",
        "hedging",
        "limiter",
        "max_redirects",
        "retry",
        "stream",
        "timeouts",
    )
    timeouts: Timeout
    stream: bool
    follow_redirects: bool
    max_redirects: int
    retry: hyperhttp_resilience.RetryPolicy | None
    circuit_breaker: hyperhttp_resilience.CircuitBreaker | None
    auth: Auth | None
    limiter: Limiter | dict[tuple[str, str, int], Limiter] | None
    deadline_header: str | None
    hedging: hyperhttp_resilience.Hedging | None

    def __init__(
        self,
        timeouts: Timeout,
        stream: bool,
        follow_redirects: bool,
        max_redirects: int,
        retry: hyperhttp_resilience.RetryPolicy | None,
        circuit_breaker: hyperhttp_resilience.CircuitBreaker | None,
        auth: Auth | None,
        limiter: Limiter | dict[tuple[str, str, int], Limiter] | None = None,
        deadline_header: str | None = None,
        hedging: hyperhttp_resilience.Hedging | None = None,
    ) -> None:
        fields = (
            timeouts,
            stream,
            follow_redirects,
            max_redirects,
            retry,
            circuit_breaker,
            auth,
            limiter,
            deadline_header,
            hedging,
        )
        for name, value in zip(_FIELDS, fields, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"SendOptions is frozen: {name} cannot be set")

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELDS)
        return f"SendOptions({values})"

    def replace(self, **changes: Any) -> SendOptions:
        """Return these options with ``changes`` (field names) applied."""
        fields = {name: getattr(self, name) for name in _FIELDS}
        fields.update(changes)
        return SendOptions(**fields)


def checked(name: str, value: Any) -> Any:
    """Return ``value`` for the option ``name``, checked (and coerced) as its argument is."""
    check = _CHECKS.get(name)
    return value if check is None else check(value)


def client_options(client: Client, stream: bool) -> SendOptions:
    """Return the client's own options for ``stream``, keeping them for the next call."""
    own = (getattr(client, name) for name in _FIELDS[2:])
    options = SendOptions(client.timeout, bool(stream), *own)
    client._options[1 if stream else 0] = options
    return options


def call_options(
    client: Client,
    stream: bool,
    timeout: Timeout | float | None,
    follow_redirects: bool,
    retry: hyperhttp_resilience.RetryPolicy | None,
    circuit_breaker: hyperhttp_resilience.CircuitBreaker | None,
    auth: AuthTypes,
    hedging: hyperhttp_resilience.Hedging | None,
) -> SendOptions:
    """Return the options of a call that overrides some (``UNSET``: the client's)."""
    return SendOptions(
        client.timeout if timeout is UNSET else Timeout.coerce(timeout),
        stream,
        client.follow_redirects if follow_redirects is UNSET else follow_redirects,
        client.max_redirects,
        client.retry if retry is UNSET else check_policy(retry),
        client.circuit_breaker if circuit_breaker is UNSET else check_breaker(circuit_breaker),
        client.auth if auth is UNSET else coerce_auth(auth),
        client.limiter,
        client.deadline_header,
        client.hedging if hedging is UNSET else check_hedging(hedging),
    )
