"""Browser test of the team-mode access fixes, through the real UI with a real OpenID
provider (oidc-provider-mock on 127.0.0.1) and Streamlit's st.login:

- a shared run shows its owner's rows to a colleague (and the read is audited); once
  unshared, its link no longer opens it;
- a forged export (``dataset_id`` of someone else's data written into ``run.json``)
  imports without the pointer, shows no rows, and deleting it deletes nobody's data;
- admin rights need a verified e-mail: an unverified "carol@bank.test" is no admin, the
  verified one sees the audit trail; owners are shown as "<verified e-mail> #<6 hex>".
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import pandas as pd
import pytest

from finml.data.demo import demo_bytes
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, IDLE
from tests.e2e.test_team_sign_in import _sign_in, _staged, _wait, oidc_provider, team_server

pytestmark = pytest.mark.e2e

ADMIN = "carol@bank.test"
USERS = {
    "alice": {"sub": "alice", "email": "alice@bank.test", "email_verified": True, "name": "Alice"},
    "bob": {"sub": "bob", "email": "bob@bank.test", "email_verified": True, "name": "Bob"},
    "carol": {"sub": "carol", "email": ADMIN, "email_verified": True, "name": "Carol"},
    # types the admin's e-mail (and name) at a provider that does not verify it
    "mallory": {"sub": "mallory", "email": ADMIN, "email_verified": False, "name": ADMIN},
}
#: An invisible word joiner: the page once put one after "@", so a copied address was wrong.
JOINER = "\u2060"


@pytest.fixture
def provider(tmp_path):
    """The OpenID provider of this file's users."""
    with oidc_provider(tmp_path / "oidc.log", USERS) as url:
        yield url


@pytest.fixture
def team_url(provider, data_dir, reap, tmp_path, monkeypatch):
    """The app in team mode with carol@bank.test as the admin (set before it starts)."""
    monkeypatch.setenv("FINML_ADMINS", ADMIN)
    with team_server(provider, tmp_path) as url:
        yield url


def _shown(text: str) -> str:
    """``text`` as the page's innerText has it, checked to hold no invisible word joiner
    (an address copied off the page must be the address itself)."""
    assert JOINER not in text, repr(text)
    return text


def _sign_in_as(browser, url: str, sub: str):
    """A new browser context signed in as ``sub``."""
    return _sign_in(browser.new_context(viewport={"width": 1400, "height": 1000}), url, sub)


def _sidebar_identity(page) -> str:
    return _shown(page.get_by_test_id("stSidebar").get_by_text("Signed in as").inner_text())


def _drill_down(page, cell: str = "TP") -> list[str]:
    """Click ``cell`` of the confusion matrix's drill-down (a cell with test cases); the
    header names of its table (read from the data grid's accessibility table)."""
    from playwright.sync_api import expect

    cells = page.get_by_role("radiogroup", name="Show the test cases in cell")
    cells.get_by_role("radio", name=cell, exact=True).click()
    caption = page.get_by_text(re.compile(rf"\d+ test cases in {cell}, highest score first"))
    expect(caption).to_be_visible()
    assert int(caption.inner_text().split()[0]) > 0, caption.inner_text()
    page.wait_for_selector(IDLE)
    grid = page.get_by_test_id("stDataFrame").filter(has=page.locator("th", has_text="data row"))
    expect(grid).to_have_count(1)
    return [h.strip() for h in grid.locator("th[role='columnheader']").all_text_contents()]


def _set_shared(page, url: str, run_id: str, shared: bool) -> None:
    """The owner flips "Share with my team" on the Runs page; waits until the store has it."""
    from finml.access import is_shared
    from finml.store import RunStore

    page.goto(f"{url}/runs")
    page.wait_for_selector(IDLE)
    toggle = page.get_by_role("switch", name="Share with my team (read-only)")
    assert toggle.is_checked() != shared
    page.get_by_text("Share with my team (read-only)").click()
    _wait(lambda: is_shared(RunStore().get_run(run_id)) == shared, "the share toggle")
    page.wait_for_selector(IDLE)


def _forged_export(run_id: str) -> tuple[bytes, str]:
    """Alice's run exported as finml does, with her dataset's id written back into
    ``run.json`` (what a hostile colleague would try); and that id."""
    from finml.reporting.exchange import export_run
    from finml.store import RunStore

    store = RunStore()
    dataset_id = store.get_run(run_id).params["dataset_id"]
    members = {}
    with zipfile.ZipFile(io.BytesIO(export_run(store, run_id))) as zf:
        for name in zf.namelist():
            members[name] = zf.read(name)
    record = json.loads(members["run.json"])
    assert "dataset_id" not in record["params"]  # the export itself leaves it behind
    record["params"]["dataset_id"] = dataset_id
    members["run.json"] = json.dumps(record).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue(), dataset_id


def test_sharing_forged_imports_and_admin_rights(team_url, provider, tmp_path, data_dir):
    from playwright.sync_api import expect, sync_playwright

    from finml import audit
    from finml.access import short_id, user_folder, user_id_of
    from finml.store import RunStore

    expect.set_options(timeout=60_000)
    ids = {name: user_id_of(provider, name) for name in USERS}
    alice_shown = f"alice@bank.test #{short_id(ids['alice'])}"
    upload = tmp_path / "alice_customers.csv"
    upload.write_bytes(demo_bytes("German Credit (Statlog)"))
    forged_file = tmp_path / "alice_run.zip"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)

        # 2. Alice trains the default logistic regression on her upload and shares the run
        alice = _sign_in_as(browser, team_url, "alice")
        assert _sidebar_identity(alice) == "Signed in as Alice"
        _staged(alice, team_url, upload)
        alice.get_by_role("button", name="Start training").click()
        # the others sign in while her run trains; only the verified admin e-mail is admin
        bob = _sign_in_as(browser, team_url, "bob")
        mallory = _sign_in_as(browser, team_url, "mallory")
        carol = _sign_in_as(browser, team_url, "carol")
        assert _sidebar_identity(bob) == "Signed in as Bob"
        assert _sidebar_identity(mallory) == f"Signed in as {ADMIN}"  # not "(admin)"
        assert _sidebar_identity(carol) == "Signed in as Carol (admin)"
        expect(alice.get_by_role("link", name="Open in Evaluate")).to_be_visible(timeout=120_000)
        run_id = alice.url.split("run=")[1].split("&")[0]
        _set_shared(alice, team_url, run_id, True)

        # 3. Bob reads her rows through the shared run (audited), sees who shared it
        bob.goto(f"{team_url}/evaluate?run={run_id}")
        expect(bob.get_by_text("Confusion matrix at threshold")).to_be_visible()
        headers = _drill_down(bob)
        assert headers[:2] == ["data row", "score"], headers
        assert "status_of_existing_checking_account" in headers, headers
        bob.goto(f"{team_url}/runs")
        caption = bob.get_by_text("Shared with the team by")
        expect(caption).to_be_visible()
        assert _shown(caption.inner_text()) == (
            f"Shared with the team by {alice_shown}: read-only to you."
        )

        # 4. Bob imports a forged export pointing at Alice's dataset
        forged, dataset_id = _forged_export(run_id)
        forged_file.write_bytes(forged)
        bob.get_by_text("Import a run exported by finml").click()
        bob.locator("input[type='file']").set_input_files(str(forged_file))
        bob.get_by_role("button", name="Import", exact=True).click()
        expect(bob.get_by_text("Imported as run")).to_be_visible()
        imported = [r for r in RunStore().list_runs() if r.tags.get("finml.imported") == "1"]
        assert len(imported) == 1 and "dataset_id" not in imported[0].params
        import_id = imported[0].run_id

        # 3 (end). Alice unshares: the link to her run no longer opens it for Bob
        _set_shared(alice, team_url, run_id, False)
        bob.goto(f"{team_url}/evaluate?run={run_id}")
        expect(bob.get_by_text("The run in the link is not available")).to_be_visible()
        # 4 (on). ... and Evaluate falls back to his import, whose drill-down has no rows
        expect(bob.get_by_role("combobox", name="Run", exact=True)).to_have_value(
            re.compile(r"\(imported\)")
        )
        assert bob.url.endswith(f"run={import_id}") or f"run={import_id}&" in bob.url
        assert _drill_down(bob) == ["data row", "score"]
        expect(bob.get_by_text("The rows are not shown")).to_be_visible()

        bob.goto(f"{team_url}/runs")
        bob.wait_for_selector(IDLE)
        bob.get_by_text("Confirm delete").click()
        delete = bob.get_by_role("button", name="Delete run")
        expect(delete).to_be_enabled()
        delete.click()
        expect(bob.get_by_text("No runs yet")).to_be_visible()
        assert [r.run_id for r in RunStore().list_runs()] == [run_id]

        # her dataset survives the deletion: on disk, and in her own drill-down
        folder, key = dataset_id.split("-")
        assert folder == user_folder(ids["alice"])
        assert (data_dir / "datasets" / folder / f"{key}.parquet").is_file()
        alice.goto(f"{team_url}/evaluate?run={run_id}")
        expect(alice.get_by_text("Confusion matrix at threshold")).to_be_visible()
        assert "status_of_existing_checking_account" in _drill_down(alice)

        # 5. Mallory ("carol@bank.test", unverified) is no admin; a shared run lets her
        # reach the full Runs page, where the audit trail would be
        _set_shared(alice, team_url, run_id, True)
        mallory.goto(f"{team_url}/runs")
        expect(mallory.get_by_text("Compare runs")).to_be_visible()
        mallory.wait_for_selector(IDLE)
        expect(mallory.get_by_text("Shared with the team by")).to_be_visible()  # not an admin
        expect(mallory.get_by_text("Audit trail (admins)")).to_have_count(0)

        carol.goto(f"{team_url}/runs")
        expect(carol.get_by_text("Audit trail (admins)")).to_be_visible()
        carol.wait_for_selector(IDLE)
        leaderboard = carol.get_by_test_id("stDataFrame").first
        expect(leaderboard.locator("td", has_text=alice_shown)).to_have_count(1)
        with carol.expect_download() as download:
            carol.get_by_role("button", name="Download the audit trail (CSV)").click()
        trail = pd.read_csv(download.value.path(), dtype=str).fillna("")
        # the download itself is audited (after the file was made: it is not in it)
        _wait(
            lambda: any(
                e["action"] == "download" and e["user"] == ids["carol"]
                for e in audit.read().to_dict("records")
            ),
            "the download's audit event",
        )
        browser.close()

    def events(user: str, action: str, target: str | None = None) -> list[dict]:
        rows = trail[(trail["user"] == ids[user]) & (trail["action"] == action)]
        if target is not None:
            rows = rows[rows["target"] == target]
        return [json.loads(d) for d in rows["details"]]

    reads = events("bob", "read_rows", run_id)
    assert reads and all(d == {"owner": ids["alice"], "dataset": dataset_id} for d in reads)
    assert events("bob", "import") and events("bob", "delete", import_id)
    assert len(events("alice", "share", run_id)) == 2 and events("alice", "unshare", run_id)
    assert not (trail["action"] == "delete_dataset").any(), trail
    # one sign-in event per browser session (each page.goto opens one)
    assert events("mallory", "sign_in") and all(
        d == {"email": ADMIN, "admin": False} for d in events("mallory", "sign_in")
    )
    assert events("carol", "sign_in") and all(
        d == {"email": ADMIN, "admin": True} for d in events("carol", "sign_in")
    )
    assert audit.verify() is None  # the chain of the trail is intact
    log = (tmp_path / "streamlit.log").read_text()
    assert f"Admin role refused to {ids['mallory']}" in log
