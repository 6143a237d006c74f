"""Browser test of sign-in with a real OpenID provider (oidc-provider-mock on 127.0.0.1)
and Streamlit's own st.login: two analysts in two browser contexts; each trains on their own
upload, and neither sees the other's run, data or file name, even with the run's link."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
import urllib.request

import pytest

from finml.data.demo import demo_bytes
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, IDLE, _free_port, process, serving

pytestmark = pytest.mark.e2e

USERS = {
    name: {"sub": name, "email": f"{name}@bank.test", "name": name.title()}
    for name in ("alice", "bob", "carol", "dave")
}


def _wait(check, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} did not come up in {seconds:.0f} s"
        time.sleep(0.2)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def oidc_provider(log_path, users: dict | None = None):
    """oidc-provider-mock with the claims of ``users`` (default :data:`USERS`) on a free
    loopback port; yields its URL."""
    port = _free_port()
    users = USERS if users is None else users
    claims = [arg for u in users.values() for arg in ("--user-claims", json.dumps(u))]
    command = [sys.executable, "-m", "oidc_provider_mock", "-p", str(port), *claims]
    with process(command, log_path):
        url = f"http://127.0.0.1:{port}"
        _wait(lambda: _answers(f"{url}/.well-known/openid-configuration"), "the OpenID provider")
        yield url


@contextlib.contextmanager
def team_server(provider: str, folder):
    """``streamlit run`` in team mode (an [auth] section pointing at ``provider``, the
    secrets file and log in ``folder``); yields its URL."""
    secrets = folder / "secrets.toml"
    port = _free_port()  # the redirect URI names the port: ask streamlit for that one
    url = f"http://127.0.0.1:{port}"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "{url}/oauth2callback"\n'
        'cookie_secret = "a-long-random-cookie-secret-for-the-test"\n'
        'client_id = "finml"\n'
        'client_secret = "finml-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    with serving(folder / "streamlit.log", "--secrets.files", str(secrets), port=port):
        yield url


@pytest.fixture
def provider(tmp_path):
    """The OpenID provider of the test's users."""
    with oidc_provider(tmp_path / "oidc.log") as url:
        yield url


@pytest.fixture
def team_url(provider, data_dir, reap, tmp_path, monkeypatch):
    """The app in team mode: an [auth] section pointing at the provider."""
    monkeypatch.setenv("FINML_WARM_WORKER", "1")
    with team_server(provider, tmp_path) as url:
        yield url


def _sign_in(context, url: str, sub: str):
    """A page of ``context`` signed in as ``sub`` on the provider's own login form, once
    the sidebar says who is signed in."""
    from playwright.sync_api import expect

    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name='sub']").fill(sub)  # the provider's own login form
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_test_id("stSidebar").get_by_text("Signed in as")).to_be_visible()
    page.wait_for_selector(IDLE)
    return page


def test_two_analysts_each_see_only_their_own_work(team_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)
    upload = tmp_path / "alice_customers.csv"
    upload.write_bytes(demo_bytes("German Credit (Statlog)"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        alice = _sign_in(
            browser.new_context(viewport={"width": 1400, "height": 1000}), team_url, "alice"
        )
        bob = _sign_in(
            browser.new_context(viewport={"width": 1400, "height": 1000}), team_url, "bob"
        )
        expect(alice.get_by_text("Signed in as Alice")).to_be_visible()

        _staged(alice, team_url, upload)
        alice.get_by_role("button", name="Start training").click()
        expect(alice.get_by_role("link", name="Open in Evaluate")).to_be_visible(timeout=120_000)
        run_url = alice.url
        run_id = run_url.split("run=")[1].split("&")[0]

        bob.goto(f"{team_url}/evaluate?run={run_id}")  # Alice's link, in Bob's browser
        expect(bob.get_by_text("No run has test results yet")).to_be_visible()
        bob.goto(f"{team_url}/runs")
        expect(bob.get_by_text("No runs yet")).to_be_visible()
        expect(bob.get_by_text("alice_customers.csv")).to_have_count(0)

        bob.goto(f"{team_url}/train?run={run_id}")
        expect(bob.get_by_text("That run is not available")).to_be_visible()
        alice.goto(f"{team_url}/train?run={run_id}")  # a reload finds her run again
        expect(alice.get_by_text("Run logreg · alice_customers.csv")).to_be_visible()
        browser.close()


def analysts_ready(browser, url: str, folder, epochs: int) -> dict:
    """Each of :data:`USERS` signs in in a browser context of their own, uploads the German
    Credit table as ``<name>_applicants.csv`` (written in ``folder``), stages it and opens
    Train with a Keras MLP of ``epochs`` epochs. Returns name -> page."""
    pages = {}
    for name in USERS:
        upload = folder / f"{name}_applicants.csv"
        upload.write_bytes(demo_bytes("German Credit (Statlog)"))
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pages[name] = _sign_in(context, url, name)
        _staged(pages[name], url, upload, epochs=epochs)
    return pages


def _staged(page, url: str, upload, epochs: int = 0) -> None:
    """Upload ``upload`` on the Data page, use it, and open Train; with ``epochs``, choose
    the Keras MLP with that many epochs (and patience), so the run takes a while."""
    from playwright.sync_api import expect

    page.goto(url)
    page.get_by_text("Upload a file").click()
    page.locator("input[type='file']").set_input_files(str(upload))
    expect(page.get_by_text("Validation report")).to_be_visible()
    page.wait_for_selector(IDLE)
    page.get_by_role("button", name="Use this dataset for training").click()
    page.get_by_role("link", name="Go to Train").click()
    page.wait_for_selector(IDLE)
    if epochs:
        page.get_by_test_id("stSelectbox").filter(has_text="Architecture").click()
        page.get_by_role("option", name="Keras MLP (deep learning)").click()
        page.get_by_label("Epochs", exact=True).fill(str(epochs))
        page.get_by_label("Early-stopping patience (epochs)", exact=True).fill(str(epochs))
        page.wait_for_selector(IDLE)


def test_four_analysts_train_at_once_two_wait_queued(team_url, tmp_path, data_dir):
    """Four users in four browser contexts start a run each within seconds, with two
    worker slots: two wait as queued, then all four finish; a reload mid-run finds it
    again; each user sees only their own run and data on every page. Prints the server's
    RSS (bench/bench_team_load.py measures it after 4 users x 5 runs)."""
    from playwright.sync_api import expect, sync_playwright

    from finml.store import RunStore

    expect.set_options(timeout=60_000)
    store = RunStore()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        pages = analysts_ready(browser, team_url, tmp_path, epochs=10)
        for page in pages.values():  # four starts within seconds
            page.get_by_role("button", name="Start training").click()
        _wait(lambda: len(store.list_runs()) == 4, "four runs", 60)
        alice = pages["alice"]
        alice.reload()  # mid-run: the page finds her run again from its URL
        expect(alice.get_by_text("Run mlp · alice_applicants.csv")).to_be_visible()
        _wait(lambda: all(r.status == "finished" for r in store.list_runs()), "every run", 300)
        # the queue, read from what the store recorded rather than caught live (a live
        # look depends on how loaded the machine is): never more than two trained at once,
        # and the two that started last, submitted while both slots were busy, waited for
        # a slot: they started only after a run had ended
        runs = sorted(store.list_runs(), key=lambda r: r.started)
        times = [(r.submitted, r.started, r.ended) for r in runs]
        print(
            "queue (submitted, started, ended), s:",
            [tuple(round(t - times[0][0], 1) for t in x) for x in times],
        )
        assert max(_training_at(runs, r.started) for r in runs) <= 2, times
        first_end = min(r.ended for r in runs)
        assert all(r.submitted < first_end <= r.started for r in runs[2:]), times
        # Evaluate and Runs: their own run, nobody else's (every page is checked the same
        # way, one session per user, in tests/app/test_team_pages.py)
        mine = {r.tags["finml.owner"].rsplit("|", 1)[1]: r.run_id for r in store.list_runs()}
        for name, page in pages.items():
            for where in ("evaluate", "runs"):
                page.goto(f"{team_url}/{where}")
                page.wait_for_selector(IDLE)
                picked = page.get_by_role("combobox", name="Run", exact=True)
                expect(picked).to_have_value(re.compile(mine[name][:8]))  # names carry a short id
                for other in set(USERS) - {name}:
                    expect(page.get_by_text(f"{other}_applicants.csv")).to_have_count(0)
        owners = sorted(r.tags["finml.owner"] for r in store.list_runs())
        assert [o.rsplit("|", 1)[1] for o in owners] == sorted(USERS)  # <issuer>|<sub>
        assert all(o.startswith("http://127.0.0.1:") for o in owners)
        browser.close()
    port = team_url.rsplit(":", 1)[1]
    print(f"streamlit server RSS after 4 users x 1 run, every page seen: {_rss_mib(port):.0f} MiB")


def _training_at(runs: list, when: float) -> int:
    """How many of ``runs`` were training at time ``when`` (seconds since the epoch)."""
    return sum(r.started <= when < r.ended for r in runs)


def _rss_mib(port: str) -> float:
    """Resident memory of the streamlit server on ``port`` (from /proc), MiB."""
    from pathlib import Path

    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            if b"streamlit" in b" ".join(cmd) and port.encode() in cmd:
                status = (proc / "status").read_text()
                kb = next(line for line in status.splitlines() if line.startswith("VmRSS"))
                return int(kb.split()[1]) / 1024
        except OSError:
            continue
    return float("nan")
