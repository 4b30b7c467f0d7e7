"""Under xdist (scripts/test.sh runs 5 workers on CI's 2 cores) the real-time tests run one at a time, first.

A test marked ``realtime`` asserts a wall-clock bound or paces real processes against the wall clock;
a test marked ``slow`` (and not ``beside_others``) is a long scenario timed by the demo's script or by
the wall clock: one marked both is a slow one. Each kind forms one work unit: one worker runs the
real-time tests one after another, a second the slow scenarios one after another, so no two tests
of a kind compete with each other; the other workers take the rest of the suite, and the first two
join them once their unit is done. They come first in the collection, so that the longest chains of
work start at once. The two units run beside each other throughout, so a long real-time scenario
is as alone in either: it is marked ``slow`` too where the real-time unit would otherwise be the
run's critical path (docs/testing.md, eleventh pass).

The rest runs at a lower CPU priority (``nice`` 10, set once a worker takes its first test of the
rest, and inherited by the processes that test starts): most of the suite's time is waiting on
real processes and the demo's clock, so five workers fit on 2 cores, and where they compete for
the CPU the timed units come first. A worker that finished its unit is niced as it joins the rest;
none is made less nice again (it never runs a timed test after it).

A ``slow`` test also marked ``beside_others`` is long but paces nothing and bounds nothing by the
wall clock (it polls with generous deadlines and mostly waits): it runs with the rest of the suite,
right after the timed units in the collection, so that a worker starts it at once and it does not
end up as the last test of the run.

A module marked ``one_worker`` (``pytestmark``) has an expensive module-scoped fixture (a pipeline
run, a fuzz storm): its tests form one work unit too, so that one worker sets the fixture up once.
Spread test by test, both workers took some of them and each ran the fixture (the protocol fuzz's
storm ran twice, 15 s and 19 s).

xdist's own ``--dist loadgroup`` would do this with ``xdist_group`` marks, but it renames the
tests' node ids to carry the group, which pytest 9 no longer allows, so the groups are made here:
each worker writes each grouped node id with its group to a file, and the controller's scheduler
(a ``LoadScopeScheduling`` whose scope is the group or else the test itself) reads them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

GROUP = "realtime"  # tests marked realtime: wall-clock bounds, paced processes
SLOW_GROUP = "slow"  # long timed scenarios, realtime or not (not beside_others)
TIMED_GROUPS = (GROUP, SLOW_GROUP)
LIST_KEY = "quickcam_realtime_list"
REST_NICENESS = 10


def is_realtime(item: pytest.Item) -> bool:
    """A test of one of the two timed units (real-time or slow): never run beside another of its unit."""
    return timed_group(item) is not None


def timed_group(item: pytest.Item) -> str | None:
    if item.get_closest_marker("slow") is not None and not is_beside_others(item):
        return SLOW_GROUP  # a long scenario, real-time or not: the two units stay about as long as each other
    if item.get_closest_marker("realtime") is not None:
        return GROUP
    return None


def is_beside_others(item: pytest.Item) -> bool:
    return item.get_closest_marker("beside_others") is not None


def group_of(item: pytest.Item) -> str | None:
    """The work unit a test belongs to: a timed group, its module's (``one_worker``), or None (its own)."""
    if (timed := timed_group(item)) is not None:
        return timed
    if item.get_closest_marker("one_worker") is not None:
        return item.nodeid.split("::", 1)[0]
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In an xdist worker: real-time tests first, then the long ones beside others, and the grouped ids
    where the controller reads them."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None or LIST_KEY not in workerinput:  # not one of our workers: order untouched
        return
    realtime = [item for item in items if timed_group(item) == GROUP]
    slow = [item for item in items if timed_group(item) == SLOW_GROUP]
    chosen = set(realtime) | set(slow)
    long_beside = [item for item in items if is_beside_others(item) and item not in chosen]
    chosen.update(long_beside)
    items[:] = realtime + slow + long_beside + [item for item in items if item not in chosen]
    target = Path(workerinput[LIST_KEY])
    part = target.with_name(f"{target.name}.{workerinput['workerid']}")
    grouped = [(group, item.nodeid) for item in items if (group := group_of(item)) is not None]
    part.write_text("".join(f"{group}\t{nodeid}\n" for group, nodeid in grouped))
    part.replace(target)  # whole or absent: both workers write the same list


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """In an xdist worker, at its first test of the rest: nice 10 from then on (see the module's docstring)."""
    if LIST_KEY not in getattr(item.config, "workerinput", {}) or is_realtime(item):
        return
    if os.getpriority(os.PRIO_PROCESS, 0) < REST_NICENESS:
        os.setpriority(os.PRIO_PROCESS, 0, REST_NICENESS)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """In the controller: tell each worker where to write the grouped node ids."""
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
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # called once every worker has collected, so the list is there
                listed = getattr(config, "_quickcam_realtime_list", None)
                lines = listed.read_text().splitlines() if listed and listed.exists() else []
                self.groups = {nodeid: group for group, nodeid in (line.split("\t", 1) for line in lines)}
            return self.groups.get(nodeid, nodeid)

    return RealtimeGroupScheduling(config, log)


def pytest_unconfigure(config: pytest.Config) -> None:
    listed = getattr(config, "_quickcam_realtime_list", None)
    if listed is not None:
        for path in listed.parent.glob("*"):
            path.unlink()
        listed.parent.rmdir()
