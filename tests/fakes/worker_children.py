"""A test for ``tests/test_worker_group.py`` to run in a pytest of its own (``-n 1``): its worker is killed while
the pipeline it started runs. It says its worker's pid and its children's in the file ``QC_WORKER_PIDS`` names,
then waits to be killed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests.pipeline import QUICK_DEMO, Pipeline


def test_a_pipeline_runs_until_the_worker_is_killed(tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path, **QUICK_DEMO)
    pipe.start_uploader_listening()
    pipe.start("detector")
    said = Path(os.environ["QC_WORKER_PIDS"])
    said.with_suffix(".part").write_text(json.dumps({"worker": os.getpid(),
                                                     "children": [proc.pid for proc in pipe.procs.values()]}))
    said.with_suffix(".part").rename(said)
    time.sleep(600)
