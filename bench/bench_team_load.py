"""Benchmark: one team server under four analysts, five runs each (4 x 5 = 20 runs).

Starts what the four-analyst browser test starts (oidc-provider-mock on 127.0.0.1, a team
``streamlit run`` with the warm spare on and ``FINML_MAX_WORKERS=2``, Debian chromium with
one browser context per user), then each user uploads the German Credit table, stages it
and starts five runs (a Keras MLP of 20 epochs, then four logistic regressions), all four
users at once. Waits until all 20 runs are finished, opens every page as every user, and
prints the wall time and the streamlit server's resident memory (RSS, from /proc) before
the users came, after they signed in, after the 20 runs and the page visits (the newest
run of each user, a logistic regression, is what the pages show), and once every user
opened their Keras run on Evaluate (TensorFlow is then loaded in the server, once).

The peer is the same server with nobody signed in: the figure to read is how much the
server grows per user and per run (it should not grow per run: runs live in the store).

Usage: python bench/bench_team_load.py [RUNS_PER_USER]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(runs_per_user: int = 5) -> None:
    from playwright.sync_api import expect, sync_playwright

    from finml.store import RunStore
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, IDLE
    from tests.e2e.test_team_sign_in import (
        USERS,
        _rss_mib,
        _wait,
        analysts_ready,
        oidc_provider,
        team_server,
    )

    folder = Path(tempfile.mkdtemp(prefix="finml-load-"))
    os.environ.update(
        FINML_DATA_DIR=str(folder / "data"), FINML_WARM_WORKER="1", FINML_MAX_WORKERS="2"
    )
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    expect.set_options(timeout=120_000)
    store = RunStore()
    total = len(USERS) * runs_per_user
    with oidc_provider(folder / "oidc.log") as provider, team_server(provider, folder) as url:
        port = url.rsplit(":", 1)[1]
        print(f"RSS of the idle server: {_rss_mib(port):.0f} MiB")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages = analysts_ready(browser, url, folder, epochs=20)
            print(f"RSS after 4 sign-ins and uploads: {_rss_mib(port):.0f} MiB")
            start = time.monotonic()
            for page in pages.values():
                page.get_by_role("button", name="Start training").click()
            _wait(lambda: len(store.list_runs()) == len(USERS), "the first runs", 60)
            for page in pages.values():
                page.get_by_test_id("stSelectbox").filter(has_text="Architecture").click()
                page.get_by_role("option", name="Logistic regression (scikit-learn)").click()
                page.wait_for_selector(IDLE)
                for _ in range(runs_per_user - 1):
                    before = len(store.list_runs())
                    page.get_by_role("button", name="Start training").click()
                    _wait(lambda n=before: len(store.list_runs()) == n + 1, "the next run", 60)
                    page.wait_for_selector(IDLE)
            _wait(lambda: len(store.list_runs()) == total, f"{total} runs", 60)
            done = lambda: all(r.status == "finished" for r in store.list_runs())  # noqa: E731
            _wait(done, "every run", 1800)
            elapsed = time.monotonic() - start
            for page in pages.values():
                for where in ("data", "train", "evaluate", "predict", "runs"):
                    page.goto(f"{url}/{where}")
                    page.wait_for_selector(IDLE)
            rss = _rss_mib(port)
            keras = {  # owner ids are <issuer>|<sub>; the subs are the users' names
                r.tags["finml.owner"].rsplit("|", 1)[1]: r.run_id
                for r in store.list_runs()
                if r.model == "mlp"
            }
            for name, page in pages.items():  # a Keras model in the server: TensorFlow loads
                page.goto(f"{url}/evaluate?run={keras[name]}")
                page.wait_for_selector(IDLE)
            rss_keras = _rss_mib(port)
            browser.close()
        print(f"{total} runs by {len(USERS)} users finished in {elapsed:.0f} s")
        print(f"RSS after {len(USERS)} users x {runs_per_user} runs and every page: {rss:.0f} MiB")
        print(f"RSS once each user opened their Keras run on Evaluate: {rss_keras:.0f} MiB")
        time.sleep(5)  # the sessions end with their tabs
        print(f"RSS once the {len(USERS)} tabs are closed: {_rss_mib(port):.0f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
