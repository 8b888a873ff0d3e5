"""The command line: ``app`` (typer commands), ``flags`` (shared options), ``session`` (flags
to library calls).  The only package that imports typer."""
