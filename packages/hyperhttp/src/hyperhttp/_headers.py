"""Headers: case-insensitive, multi-valued, order-keeping; bytes inside, str outside."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping

__all__ = ["HeaderTypes", "Headers"]

HeaderTypes = (
    "Headers | Mapping[str, str] | Mapping[bytes, bytes] "
    "| Iterable[tuple[str, str]] | Iterable[tuple[bytes, bytes]]"
)


def _b(value: str | bytes, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            return value.encode("utf-8")
    raise TypeError(f"header {what} must be str or bytes, not {type(value).__name__}")


class Headers(MutableMapping[str, str]):
    """HTTP fields: case-insensitive names, repeated values kept in order.

    ``h["name"]`` / ``h.get(name)`` join repeated values with ", ";
    ``h.get_list(name)`` returns each value in order.

    Once built, the list of fields is never changed in place: every change
    binds a new list. The list object is thus a version stamp: the client
    keys a request's validated head to it (``Client._checked_fields``), so
    a field changed after ``build_request`` is validated and sent as it is.
    """

    __slots__ = ("_list",)

    def __init__(self, headers: object = None) -> None:
        # Each entry: (lower-cased name, name as given, value), all bytes.
        self._list: list[tuple[bytes, bytes, bytes]] = []
        if headers is None:
            return
        if isinstance(headers, Headers):
            self._list = list(headers._list)
            return
        items: Iterable[tuple[str | bytes, str | bytes]]
        if isinstance(headers, Mapping):
            items = headers.items()
        elif isinstance(headers, Iterable) and not isinstance(headers, str | bytes):
            items = headers
        else:
            raise TypeError(f"headers must be a mapping or pairs, not {type(headers).__name__}")
        for pair in items:
            name, value = pair
            raw = _b(name, "name")
            self._list.append((raw.lower(), raw, _b(value, "value")))

    @classmethod
    def from_raw(cls, pairs: list[tuple[bytes, bytes]]) -> Headers:
        """Wrap a parser's [(lower-cased name, value)] list without copying checks."""
        headers = object.__new__(cls)
        headers._list = [(name, name, value) for name, value in pairs]
        return headers

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """The fields as (name, value) bytes pairs, names as given."""
        return [(name, value) for _, name, value in self._list]

    def get_list(self, key: str) -> list[str]:
        """Every value of ``key``, in order."""
        lower = _b(key, "name").lower()
        return [value.decode("latin-1") for name, _, value in self._list if name == lower]

    def get_raw(self, key: bytes) -> list[bytes]:
        """Every value of ``key`` (lower-case bytes), undecoded."""
        return [value for name, _, value in self._list if name == key]

    def __getitem__(self, key: str) -> str:
        values = self.get_list(key)
        if not values:
            raise KeyError(key)
        return ", ".join(values)

    def __setitem__(self, key: str, value: str) -> None:
        raw = _b(key, "name")
        lower = raw.lower()
        self._list = [entry for entry in self._list if entry[0] != lower]
        self._list.append((lower, raw, _b(value, "value")))

    def __delitem__(self, key: str) -> None:
        lower = _b(key, "name").lower()
        kept = [entry for entry in self._list if entry[0] != lower]
        if len(kept) == len(self._list):
            raise KeyError(key)
        self._list = kept

    def add(self, key: str, value: str) -> None:
        """Append a field (keeping existing ones of the same name)."""
        raw = _b(key, "name")
        self._list = [*self._list, (raw.lower(), raw, _b(value, "value"))]  # a new version

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str | bytes):
            return False
        lower = _b(key, "name").lower()
        return any(name == lower for name, _, _ in self._list)

    def __iter__(self) -> Iterator[str]:
        seen: set[bytes] = set()
        for lower, _, _ in self._list:
            if lower not in seen:
                seen.add(lower)
                yield lower.decode("latin-1")

    def __len__(self) -> int:
        return len({lower for lower, _, _ in self._list})

    def multi_items(self) -> list[tuple[str, str]]:
        """Every (name, value) pair, repeats included, in order."""
        return [(lower.decode("latin-1"), v.decode("latin-1")) for lower, _, v in self._list]

    def copy(self) -> Headers:
        """Return a copy."""
        return Headers(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return sorted((n, v) for n, _, v in self._list) == sorted(
                (n, v) for n, _, v in other._list
            )
        if isinstance(other, Mapping | list):
            try:
                return self == Headers(other)
            except TypeError:
                return False
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        items = [
            (name, "[secure]" if name.lower() in _SECRET_FIELDS else value)
            for name, value in self.multi_items()
        ]
        return f"Headers({items!r})"


# Never shown by repr (credentials): what httpx masks too.
_SECRET_FIELDS = frozenset({"authorization", "proxy-authorization"})
