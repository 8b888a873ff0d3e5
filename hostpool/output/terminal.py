"""Parent side: what may reach a terminal, and in which colours.

Everything a host sent passes ``sanitize`` before a human output mode prints it, so
remote output cannot retitle, clear or rewrite the screen; the machine formats keep exact
bytes instead.
"""

from __future__ import annotations

import enum
import os
import re
from typing import TextIO

from hostpool.models import HostResult, Status

# Sequences never span a newline, so text sanitised whole equals text sanitised per line.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI, 7- and 8-bit
    r"|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?"  # OSC (title, hyperlinks, clipboard)
    r"|\x1b[PX^_][^\x1b\n]*(?:\x1b\\)?"  # DCS/SOS/PM/APC
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # C0 (but tab/newline), DEL, C1
    r"|[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]"  # bidi overrides and marks
)


class Color(enum.StrEnum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


def sanitize(text: str) -> str:
    """Remove terminal control sequences remote output could use to rewrite the screen."""
    text = text.replace("\r\n", "\n")
    return _ESCAPES.sub("", text)


# Printable ASCII, tab and newline: bytes that need no sanitising at all.
_PLAIN = bytes(range(0x20, 0x7F)) + b"\t\n"


def text_of(data: bytes) -> str:
    """Decoded and sanitised; plain ASCII (the common case, checked at C speed) skips
    the regular expression, which cost the stream mode a second per 20 MB."""
    if data.isascii() and not data.translate(None, _PLAIN):
        return data.decode("ascii")
    return sanitize(data.decode("utf-8", "replace"))


def use_color(choice: Color, isatty: bool) -> bool:
    """``always``/``never`` win; ``auto`` needs a terminal and no NO_COLOR (no-color.org)."""
    if choice is not Color.AUTO:
        return choice is Color.ALWAYS
    return isatty and not os.environ.get("NO_COLOR")


def isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


_COLORS = {
    Status.OK: "32",
    Status.FAILED: "31",
    Status.TIMEOUT: "33",
    Status.UNREACHABLE: "35",
    Status.AUTH: "35",
    Status.HOSTKEY: "35",
    Status.ERROR: "31;1",
    Status.INTERRUPTED: "2",
}


def paint(status: Status, text: str, color: bool) -> str:
    return f"\x1b[{_COLORS[status]}m{text}\x1b[0m" if color else text


def outcome(result: HostResult) -> str:
    """Status, exit code and error in one phrase: ``failed rc=3: message``."""
    text = result.status.value
    if result.exit_code is not None and result.status is not Status.OK:
        text += f" rc={result.exit_code}"
    if result.attempts > 1:
        text += f" after {result.attempts} attempts"
    if result.error:
        text += f": {sanitize(result.error)}"
    return text
