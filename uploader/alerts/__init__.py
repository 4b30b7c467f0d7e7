"""Alerts: tell a person within seconds -- motion, a camera gone dark, a detector gone silent.

Data flow: the receiver's observations -> ``rules`` (a plain state machine;
``storage_watch`` for the ledger summary) -> ``queue`` (durable, in
``alerts.sqlite3`` beside the ledger) -> ``apprise_sink`` per target; camera
state -> ``mqtt_sink`` (payloads and Home Assistant discovery from ``topics``).
``service`` runs the threads; ``check`` and ``cli`` are ``quickcam alert test``
and the doctor's lines. The contract is docs/alerts.md.
"""
