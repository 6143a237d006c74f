"""Browser test of sign-in with a real OpenID provider (oidc-provider-mock on 127.0.0.1)
and Streamlit's own st.login: two analysts in two browser contexts; each trains on their own
upload, and neither sees the other's run, data or file name, even with the run's link."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from finml.data.demo import demo_bytes
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, IDLE, _free_port, serving

pytestmark = pytest.mark.e2e

USERS = {
    "alice": {"sub": "alice", "email": "alice@bank.test", "name": "Alice"},
    "bob": {"sub": "bob", "email": "bob@bank.test", "name": "Bob"},
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


@pytest.fixture
def provider(tmp_path):
    """oidc-provider-mock with the two users' claims, on a free loopback port."""
    port = _free_port()
    claims = [arg for u in USERS.values() for arg in ("--user-claims", json.dumps(u))]
    log = open(tmp_path / "oidc.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "-p", str(port), *claims],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    _wait(lambda: _answers(f"{url}/.well-known/openid-configuration"), "the OpenID provider")
    yield url
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


@pytest.fixture
def team_url(provider, data_dir, reap, tmp_path, monkeypatch):
    """The app in team mode: an [auth] section pointing at the provider."""
    monkeypatch.setenv("FINML_WARM_WORKER", "1")
    secrets = tmp_path / "secrets.toml"
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
    log = data_dir.parent / "streamlit.log"
    with serving(log, "--secrets.files", str(secrets), port=port):
        yield url


def _sign_in(context, url: str, sub: str):
    from playwright.sync_api import expect

    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name='sub']").fill(sub)  # the provider's own login form
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_text(f"Signed in as {USERS[sub]['name']}")).to_be_visible()
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

        alice.get_by_text("Upload a file").click()
        alice.locator("input[type='file']").set_input_files(str(upload))
        expect(alice.get_by_text("Validation report")).to_be_visible()
        alice.wait_for_selector(IDLE)
        alice.get_by_role("button", name="Use this dataset for training").click()
        alice.get_by_role("link", name="Go to Train").click()
        alice.wait_for_selector(IDLE)
        alice.get_by_role("button", name="Start training").click()
        expect(alice.get_by_role("button", name="Open in Evaluate")).to_be_visible(timeout=120_000)
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
