"""``quickcam view``: a local web page that lists, decrypts (in memory) and plays stored events.

The data flow, one module each: ``store`` lists a destination through its back end's
``Reader`` and keeps an index of events from file names and ``.qsc`` headers (metadata
only, no key needed); ``footage`` decrypts an event's files in memory, joins its
segments into one MP4 without re-encoding and draws face boxes on snapshots;
``security`` owns the token, the password and the session cookie; ``web`` maps URLs
(``docs/viewer.md``) to pages; ``cli`` wires them together.
"""
