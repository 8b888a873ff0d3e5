"""Parent side: the ``stream`` mode, ``host | line`` as each line arrives.

Host names are padded to align and each host keeps one colour that means no status (no
red or green), so interleaved output stays readable.
"""

from __future__ import annotations

from collections.abc import Sequence

from hostpool.models import HostResult, Stream
from hostpool.output.terminal import outcome, paint, sanitize, text_of

_HOST_PALETTE = ("36", "34", "35", "33", "96", "94", "95", "93")


class StreamFormat:
    """``host | line`` for stdout and ``host ! line`` for stderr."""

    def __init__(self, hosts: Sequence[str], *, color: bool = False) -> None:
        self.color = color
        self.width = max((len(h) for h in hosts), default=0)
        self._palette = {h: _HOST_PALETTE[i % len(_HOST_PALETTE)] for i, h in enumerate(hosts)}

    def _host(self, host: str) -> str:
        name = sanitize(host).ljust(self.width)
        code = self._palette.get(host)
        return f"\x1b[{code}m{name}\x1b[0m" if self.color and code else name

    def lines(self, host: str, stream: Stream, lines: tuple[bytes, ...]) -> str:
        """A chunk of lines as one text: decoded and sanitised once, then prefixed."""
        text = text_of(b"\n".join(lines))
        if stream is Stream.STDERR:
            mark = "\x1b[33m!\x1b[0m" if self.color else "!"
            prefix = f"{self._host(host)} {mark} "
        else:
            prefix = f"{self._host(host)} | "
        return prefix + ("\n" + prefix).join(text.split("\n"))

    def end(self, result: HostResult) -> str | None:
        """One closing line for hosts that did not succeed; successes stay quiet."""
        if result.ok:
            return None
        return f"{self._host(result.host)} # {paint(result.status, outcome(result), self.color)}"
