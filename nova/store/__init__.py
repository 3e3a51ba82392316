"""The store: the PostgreSQL connection (embedded or a DSN), migrations from ``sql/``, and the
advisory locks every writer takes. The lowest stage: it knows the tables, not what is in them."""
