"""Registering a command whose signature is its own parameters plus the shared flags.

The function receives the shared ones bundled as ``flags: RunFlags``; typer only sees the
merged signature, so each shared option is declared once (``cli.flags``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import typer

from hostpool.cli.flags import run_flags

_COMMON = inspect.signature(run_flags, eval_str=True).parameters


def run_command(
    app: typer.Typer, name: str, *, trailing: bool = False
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a command whose signature is its own parameters plus the shared ones.

    The function receives the shared ones bundled as ``flags: RunFlags``; typer only sees
    the merged signature, so each shared option is declared once.
    """

    def register(func: Callable[..., None]) -> Callable[..., None]:
        own = inspect.signature(func, eval_str=True)
        mine = [p for p in own.parameters.values() if p.name != "flags"]
        # Help lists arguments, then the shared options, then this command's own.
        required = [p for p in mine if p.default is inspect.Parameter.empty]
        optional = [p for p in mine if p.default is not inspect.Parameter.empty]
        params = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in [*required, *_COMMON.values(), *optional]
        ]

        def command(**kwargs: Any) -> None:
            shared = {k: kwargs.pop(k) for k in _COMMON}
            func(**kwargs, flags=run_flags(**shared))

        command.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__name__ = func.__name__
        command.__doc__ = func.__doc__
        # trailing: options end at the first word, the rest is the command (as for ssh).
        settings = {"allow_interspersed_args": False} if trailing else None
        app.command(name, context_settings=settings)(command)
        return func

    return register
