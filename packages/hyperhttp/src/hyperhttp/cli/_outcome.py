"""What a run measured, mergeable across ``--procs`` workers, and its text and JSON reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._hdr import SUB_BITS, Histogram

if TYPE_CHECKING:
    from ._plan import Plan
    from ._schedule import Stats

__all__ = ["PERCENTILES", "Outcome"]

#: The percentiles every report gives (and max).
PERCENTILES = (50.0, 90.0, 99.0, 99.9, 99.99)


@dataclass
class Outcome:
    """One worker's figures, or the merge of several (histograms add, counts add)."""

    elapsed: float = 0.0  # seconds measured (the longest worker's)
    cpu: float = 0.0  # CPU seconds (user + system) the workers spent measuring, summed
    latency: Histogram = field(default_factory=Histogram)
    lag: Histogram = field(default_factory=Histogram)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    received: int = 0
    sent: int = 0
    connects: int = 0
    connect_errors: int = 0
    in_flight_at_end: int = 0  # requests still unanswered when the run ended
    due_unsent: int = 0  # open model: requests due but never sent (every slot busy)
    gave_up: str | None = None  # why a worker stopped early (no connection could be made)
    workers: int = 1
    loop: str = ""

    @classmethod
    def from_stats(cls, stats: Stats, **kwargs: Any) -> Outcome:
        """Build a worker's outcome from its counters."""
        return cls(
            latency=stats.latency,
            lag=stats.lag,
            statuses={code: n for code, n in enumerate(stats.statuses) if n},
            errors=dict(stats.errors),
            received=stats.received,
            sent=stats.sent,
            connects=stats.connects,
            connect_errors=stats.connect_errors,
            **kwargs,
        )

    def merge(self, other: Outcome) -> None:
        """Add ``other``'s figures to these (invariant 3 of the histogram)."""
        self.elapsed = max(self.elapsed, other.elapsed)
        self.cpu += other.cpu
        self.latency.merge(other.latency)
        self.lag.merge(other.lag)
        for code, n in other.statuses.items():
            self.statuses[code] = self.statuses.get(code, 0) + n
        for kind, n in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + n
        self.received += other.received
        self.sent += other.sent
        self.connects += other.connects
        self.connect_errors += other.connect_errors
        self.in_flight_at_end += other.in_flight_at_end
        self.due_unsent += other.due_unsent
        self.gave_up = self.gave_up or other.gave_up
        self.workers += other.workers

    # ------------------------------------------------------------ crossing a pipe

    def to_wire(self) -> dict[str, Any]:
        """Plain data for the parent process (histograms as their used buckets)."""
        return {
            **{
                name: getattr(self, name)
                for name in (
                    "elapsed",
                    "cpu",
                    "errors",
                    "received",
                    "sent",
                    "connects",
                    "connect_errors",
                    "in_flight_at_end",
                    "due_unsent",
                    "gave_up",
                    "workers",
                    "loop",
                )
            },
            "statuses": {str(code): n for code, n in self.statuses.items()},
            "latency": self.latency.to_dict(),
            "lag": self.lag.to_dict(),
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Outcome:
        """Rebuild an outcome from :meth:`to_wire`'s data."""
        plain = {k: v for k, v in data.items() if k not in ("statuses", "latency", "lag")}
        return cls(
            **plain,
            statuses={int(code): n for code, n in data["statuses"].items()},
            latency=Histogram.from_dict(data["latency"]),
            lag=Histogram.from_dict(data["lag"]),
        )

    # ------------------------------------------------------------ figures

    @property
    def responses(self) -> int:
        """Responses received (any status)."""
        return self.latency.count

    @property
    def error_count(self) -> int:
        """Requests that failed (connection errors included)."""
        return sum(self.errors.values())

    @property
    def rps(self) -> float:
        """Responses per second over the measured time."""
        return self.responses / self.elapsed if self.elapsed > 0 else 0.0

    def latency_ms(self, histogram: Histogram | None = None) -> dict[str, float]:
        """Percentiles, min, mean and max in milliseconds."""
        h = self.latency if histogram is None else histogram
        values = h.percentiles(list(PERCENTILES))
        out = {f"p{_label(p)}": v / 1e6 for p, v in zip(PERCENTILES, values, strict=True)}
        out["min"] = max(h.min, 0) / 1e6
        out["mean"] = h.mean / 1e6
        out["max"] = h.max / 1e6
        return out

    def to_json(self, plan: Plan) -> dict[str, Any]:
        """Return the ``--json`` report."""
        report: dict[str, Any] = {
            "url": plan.url,
            "method": plan.method,
            "protocol": "HTTP/2" if plan.http2 else "HTTP/1.1",
            "engine": plan.engine,
            "loop": self.loop,
            "model": "open" if plan.rate else "closed",
            "rate": plan.rate,
            "connections": plan.connections,
            "streams": plan.streams,
            "concurrency": plan.concurrency,
            "procs": self.workers,
            "requests": plan.requests,
            "duration": plan.duration,
            "elapsed": self.elapsed,
            "responses": self.responses,
            "rps": self.rps,
            "cpu_seconds": self.cpu,
            "cpu_us_per_response": self.cpu / self.responses * 1e6 if self.responses else None,
            "latency_ms": self.latency_ms(),
            "histogram": {
                "unit": "ns",
                "sub_bucket_bits": SUB_BITS,
                "relative_error": 1 / (1 << SUB_BITS),
                "saturated": self.latency.saturated,
            },
            "status": {str(code): n for code, n in sorted(self.statuses.items())},
            "errors": dict(sorted(self.errors.items())),
            "error_count": self.error_count,
            "bytes": {"received": self.received, "sent": self.sent},
            "connections_opened": self.connects,
            "connect_errors": self.connect_errors,
            "in_flight_at_end": self.in_flight_at_end,
            "gave_up": self.gave_up,
        }
        if plan.rate:
            report["lag_ms"] = self.latency_ms(self.lag)
            report["due_unsent"] = self.due_unsent
        return report

    def text(self, plan: Plan) -> str:
        """Return the human report."""
        lines = [f"hyperhttp bench {plan.method} {plan.url}"]
        model = (
            f"open model, {plan.rate:,.0f} req/s scheduled"
            if plan.rate
            else "closed model (fixed concurrency)"
        )
        streams = f" x {plan.streams} streams" if plan.http2 else ""
        lines.append(
            f"  {'HTTP/2' if plan.http2 else 'HTTP/1.1'}, {plan.connections} connections{streams},"
            f" {model}, {self.workers} process{'es' if self.workers > 1 else ''}"
            f" ({self.loop}), {plan.engine} engine"
        )
        lines.append(
            f"  {self.responses:,} responses in {self.elapsed:.2f} s: {self.rps:,.0f} req/s,"
            f" {self.error_count:,} errors"
        )
        if self.responses and self.elapsed > 0:
            lines.append(
                f"  CPU: {self.cpu / self.elapsed:.2f} cores,"
                f" {self.cpu / self.responses * 1e6:.1f} µs per response"
            )
        ms = self.latency_ms()
        cells = "  ".join(f"{name} {_ms(value)}" for name, value in ms.items() if name != "min")
        lines.append(f"  latency (ms): {cells}")
        if plan.rate:
            lag = self.latency_ms(self.lag)
            lines.append(
                f"  send lag behind schedule (ms): p50 {_ms(lag['p50'])}  p99 {_ms(lag['p99'])}"
                f"  max {_ms(lag['max'])}  ({self.due_unsent:,} due at the end, not sent)"
            )
        statuses = ", ".join(f"{code} x {n:,}" for code, n in sorted(self.statuses.items()))
        lines.append(f"  status codes: {statuses or 'none'}")
        errors = ", ".join(f"{kind} x {n:,}" for kind, n in sorted(self.errors.items()))
        lines.append(f"  errors: {errors or 'none'}")
        rate = self.received / self.elapsed if self.elapsed > 0 else 0.0
        lines.append(
            f"  bytes: {_size(self.received)} received ({_size(rate)}/s),"
            f" {_size(self.sent)} sent; connections opened: {self.connects:,}"
            + (f"; {self.in_flight_at_end:,} in flight at the end" if self.in_flight_at_end else "")
        )
        if self.gave_up:
            lines.append(f"  stopped early: {self.gave_up}")
        return "\n".join(lines)


def _label(percent: float) -> str:
    return f"{percent:g}"


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
