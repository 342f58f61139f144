"""The fast tier: in-process tests with no server, no PostgreSQL and no Redis."""
