"""``nova``: the command line, one module per command group over the shared app (``nova.cli.common``):
ingest (catchup, watch, reextract), recall, curation (forget, export, import), operations (status,
doctor, migrate) and service (serve, ui, install-hooks, uninstall-hooks)."""

from nova.cli.common import app
from nova.cli import ingest, recall, curation, operations, service  # noqa: F401  (each registers its commands)

__all__ = ["app"]
