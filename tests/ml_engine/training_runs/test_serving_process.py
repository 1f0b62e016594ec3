"""The serving process never imports torch: a run's training happens in the worker process only."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from ml_engine.shared.database import MarketStore
from tests.ml_engine.training_runs.conftest import END, START

# Runs in a fresh interpreter: the serving process's modules (ml_engine.main imports every handler),
# then a run started and followed until its worker is fitting, then cancelled.
SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path

    import ml_engine.main  # noqa: F401  (everything the serving process imports)
    from ml_engine.shared.database import MarketStore
    from ml_engine.training_runs.domain.runs import RunSpec
    from tests.ml_engine.training_runs.conftest import training_runs

    async def main(url, repo, start, end):
        store = MarketStore(url)
        runs = training_runs(store, Path(repo))
        run = await runs.start(RunSpec("xgboost", "intraday", ("EURUSD",), start, end, 2), "admin-7")
        stages = []
        async for update in runs.watch(run.id):
            stages.append(update.progress.stage)
            if update.progress.stage == "fold":
                break
        final = await runs.cancel(run.id)
        print(json.dumps({"torch": "torch" in sys.modules, "stages": stages, "state": final.state.value}))

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    """
)


def test_torch_stays_out_of_the_serving_process(sample_store: MarketStore, repo: Path) -> None:
    url = str(sample_store.engine.url)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, url, str(repo), str(START), str(END)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # The worker got as far as fitting (it imported torch: the pipeline and the exporter need it)...
    assert "fold" in result["stages"] and result["state"] == "cancelled"
    # ...and the process that started it did not.
    assert result["torch"] is False
