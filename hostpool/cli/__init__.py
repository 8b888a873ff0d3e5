"""The command line: ``app`` (typer commands), ``flags`` (shared options), ``register``
(merging them into each command), ``session`` (flags to library calls).  The only package
that imports typer."""
