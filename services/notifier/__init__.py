"""Notifier: renders and sends every e-mail of the portal, exactly once per message."""
