"""The detector's console: live view, zone editor and low-power detection rate.

The camera pipeline knows only ``hooks.PipelineHooks`` (a live tap, a zone
board and a rate governor); the web side (``web.py``, ``server.py``, ``auth.py``)
is started by the detector only when ``[console] listen`` is set. See
docs/console.md.
"""
