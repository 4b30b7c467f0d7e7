"""Alerts: tell a person within seconds -- motion, a camera gone dark, a detector gone silent.

Data flow: the receiver's observations -> ``rules`` (a plain state machine, with
``storage_watch`` for the ledger summary) ->
``queue`` (durable, in the ledger file) -> ``apprise_sink`` per target, and
camera state -> ``mqtt_sink`` (Home Assistant discovery from ``topics``).
``service`` runs the threads; ``cli`` is ``quickcam alert test``. The
contract is docs/alerts.md.
"""
