"""`python -m hierograph.cli`."""

from hierograph.cli import app

app()
