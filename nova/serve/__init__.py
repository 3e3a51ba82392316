"""``nova serve``: the HTTP service the hooks call (app, routes, ingest worker, caches) and the
client the CLI and doctor use to ask it."""
