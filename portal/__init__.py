"""Operator tooling: the `portal` command, the local runner, the one-port gateway used for local
running, the outbox relay process and the local mail catcher."""
