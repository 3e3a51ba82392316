"""``python -m nova.cli``: the same as the ``nova`` command."""

from nova.cli import app

app()
