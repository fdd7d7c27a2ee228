"""How ``hyperhttp METHOD URL`` shows things: colour on a terminal (rich), plain text elsewhere.

stdout carries the response (status line, header fields, body); stderr
carries everything about the exchange (``--verbose``: the request and the
timings; progress bars; errors), so ``hyperhttp GET url > file`` keeps the
response alone. Colour is used when the stream is a terminal, unless
``--no-color`` or ``NO_COLOR`` says otherwise (``FORCE_COLOR`` forces it:
rich's rules). Bodies and header values are shown as text, never as rich
markup: a body holding ``[bold]`` prints as it is.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from rich.console import Console
from rich.highlighter import JSONHighlighter
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

if TYPE_CHECKING:
    from hyperhttp._models import Response

__all__ = ["Output", "is_json", "progress_bar"]

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


def is_json(content_type: str) -> bool:
    """Whether a Content-Type is JSON (``application/json`` or a ``+json`` type)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _is_text(content_type: str, body: bytes) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    if b"\x00" in body[:8192]:
        return False
    if media.startswith(_TEXT_TYPES) or media.endswith(("+json", "+xml")):
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _console(stream: TextIO, color: bool | None) -> Console:
    """Return a console on ``stream``: forced colour, none at all, or the stream's choice."""
    if color is False:
        return Console(file=stream, color_system=None, highlight=False, soft_wrap=True)
    return Console(file=stream, force_terminal=color, highlight=False, soft_wrap=True)


def _status_style(status: int) -> str:
    if status < 300:
        return "bold green"
    if status < 400:
        return "bold yellow"
    return "bold red"


class Output:
    """Writes the response to ``stdout`` and notes to ``stderr``, coloured or plain."""

    def __init__(self, stdout: TextIO, stderr: TextIO, *, color: bool | None) -> None:
        """``color``: True (``--color``), False (``--no-color``), None: each stream decides."""
        self.stdout = stdout
        self.stderr = stderr
        if color is None and os.environ.get("NO_COLOR"):  # https://no-color.org
            color = False
        self.out = _console(stdout, color)
        self.err = _console(stderr, color)
        self.color = self.out.is_terminal and self.out.color_system is not None

    # ------------------------------------------------------------ the response (stdout)

    def head(self, response: Response) -> None:
        """Print the status line and the header fields, as received."""
        status = Text()
        status.append(f"{response.http_version} ", style="blue")
        status.append(
            f"{response.status_code} {response.reason_phrase}".rstrip(),
            style=_status_style(response.status_code),
        )
        self._line(self.out, status)
        for name, value in response.headers.raw:
            line = Text()
            line.append(name.decode("latin-1"), style="cyan")
            line.append(": " + value.decode("latin-1"))
            self._line(self.out, line)

    def body(self, response: Response, body: bytes, *, first: bool) -> None:
        """Print the body: JSON pretty-printed, text as text, binary as a note (on stderr)."""
        if not first:
            self.out.file.write("\n")
        content_type = response.headers.get("content-type", "")
        if not body:
            return
        if not _is_text(content_type, body):
            self.note(f"[binary body: {len(body):,} bytes, not shown; save it with -o FILE]")
            return
        text = response.text
        if is_json(content_type):
            try:
                parsed: Any = json.loads(body)
            except ValueError:
                pass  # not JSON after all: shown as text
            else:
                text = json.dumps(parsed, indent=2, ensure_ascii=False)
                if self.color:
                    self.out.print(JSONHighlighter()(Text(text)))
                    return
        self.out.file.write(text if text.endswith("\n") else text + "\n")
        self.out.file.flush()

    def raw_body(self, body: bytes, binary_out: BinaryIO | None) -> None:
        """Print the body exactly as received (``--body``), bytes to a binary stdout."""
        if binary_out is not None:
            self.stdout.flush()
            binary_out.write(body)
            binary_out.flush()
        else:  # a text-only stdout (tests' StringIO): decoded as Latin-1, byte for byte
            self.stdout.write(body.decode("latin-1"))
            self.stdout.flush()

    # ------------------------------------------------------------ notes (stderr)

    def note(self, text: str, style: str = "dim") -> None:
        """Print a line about the exchange, on stderr."""
        self._line(self.err, Text(text, style=style))

    def request(self, method: str, url: str, fields: list[tuple[bytes, bytes]]) -> None:
        """``--verbose``: the request line and fields as sent."""
        self._line(self.err, Text(f"> {method} {url}", style="bold"))
        for name, value in fields:
            line = Text("> ")
            line.append(name.decode("latin-1"), style="cyan")
            line.append(": " + value.decode("latin-1"))
            self._line(self.err, line)

    def error(self, kind: str, message: str) -> None:
        """Print an error: its type and message, one line, no traceback."""
        line = Text()
        line.append("hyperhttp: error: ", style="bold red")
        line.append(f"{kind}: " if kind else "", style="red")
        line.append(message)
        self._line(self.err, line)

    @staticmethod
    def _line(console: Console, text: Text) -> None:
        console.print(text, markup=False, soft_wrap=True)


def progress_bar(stderr: TextIO) -> Progress:
    """Return a transfer progress bar on stderr: bytes, rate, time left."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(file=stderr),
        transient=False,
        auto_refresh=True,
    )
