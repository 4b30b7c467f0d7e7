"""Under xdist (scripts/test.sh runs 2 workers) the real-time tests run one at a time, first, on one worker.

A test marked ``slow`` or ``realtime`` runs real processes against the wall clock or asserts a
wall-clock bound. Two of them at once would compete for CI's 2 cores, so they form one work unit:
one worker runs them one after another while the other takes the rest of the suite, and joins in
on the rest when it is done. They come first in the collection, so that the longest chain of
work starts at once.

A ``slow`` test also marked ``beside_others`` is long but paces nothing and bounds nothing by the
wall clock (it polls with generous deadlines and mostly waits): it runs with the rest of the suite,
right after the real-time tests in the collection, so that the other worker starts it at once and
it does not end up as the last test of the run.

xdist's own ``--dist loadgroup`` would do this with ``xdist_group`` marks, but it renames the
tests' node ids to carry the group, which pytest 9 no longer allows, so the group is made here:
each worker writes the real-time node ids to a file, and the controller's scheduler (a
``LoadScopeScheduling`` whose scope is the group or else the test itself) reads them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

GROUP = "realtime"
LIST_KEY = "quickcam_realtime_list"


def is_realtime(item: pytest.Item) -> bool:
    if item.get_closest_marker("realtime") is not None:
        return True
    return item.get_closest_marker("slow") is not None and not is_beside_others(item)


def is_beside_others(item: pytest.Item) -> bool:
    return item.get_closest_marker("beside_others") is not None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In an xdist worker: real-time tests first, then the long ones beside others, and the real-time ids
    where the controller reads them."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None or LIST_KEY not in workerinput:  # not one of our workers: order untouched
        return
    realtime = [item for item in items if is_realtime(item)]
    chosen = set(realtime)
    long_beside = [item for item in items if is_beside_others(item) and item not in chosen]
    chosen.update(long_beside)
    items[:] = realtime + long_beside + [item for item in items if item not in chosen]
    target = Path(workerinput[LIST_KEY])
    part = target.with_name(f"{target.name}.{workerinput['workerid']}")
    part.write_text("".join(f"{item.nodeid}\n" for item in realtime))
    part.replace(target)  # whole or absent: both workers write the same list


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """In the controller: tell each worker where to write the real-time node ids."""
    config = node.config
    if not hasattr(config, "_quickcam_realtime_list"):
        config._quickcam_realtime_list = Path(tempfile.mkdtemp(prefix="qc-xdist-")) / "realtime.txt"
    node.workerinput[LIST_KEY] = str(config._quickcam_realtime_list)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``--dist loadgroup``: our group instead of xdist's (see the module's docstring)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class RealtimeGroupScheduling(LoadScopeScheduling):
        realtime: set[str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.realtime is None:  # called once every worker has collected, so the list is there
                listed = getattr(config, "_quickcam_realtime_list", None)
                self.realtime = set(listed.read_text().splitlines()) if listed and listed.exists() else set()
            return GROUP if nodeid in self.realtime else nodeid

    return RealtimeGroupScheduling(config, log)


def pytest_unconfigure(config: pytest.Config) -> None:
    listed = getattr(config, "_quickcam_realtime_list", None)
    if listed is not None:
        for path in listed.parent.glob("*"):
            path.unlink()
        listed.parent.rmdir()
