"""AppTest of the three modes and of private workspaces: a network address without sign-in
is refused; with sign-in on, a signed-out visitor sees only the sign-in page; each signed-in
user sees only their own runs on every page (another user's run id behaves like a missing
one), shares one read-only with the team, and an admin sees everything and the audit
trail."""

from __future__ import annotations

import re

import pytest
from streamlit import config

from finml import audit
from finml.access import principal_from_claims, short_id
from finml.config import get_settings
from finml.store import RunStore
from pages.common import AUTOLINK_BREAK, text
from tests.app.conftest import open_app, shown
from tests.conftest import train_and_log

ISS = "http://127.0.0.1:9400"
VERIFIED = {"iss": ISS, "email_verified": True}
ALICE = {"sub": "alice-sub", "email": "alice@bank.test", "name": "Alice", **VERIFIED}
BOB = {"sub": "bob-sub", "email": "bob@bank.test", "name": "Bob", **VERIFIED}
CAROL = {"sub": "carol-sub", "email": "carol@bank.test", "name": "Carol", **VERIFIED}


def uid(claims: dict) -> str:
    """The finml user id of a user with these claims (the subject namespaced by issuer)."""
    return principal_from_claims(claims).user_id


@pytest.fixture
def listening_on_the_network():
    """The server bound to every interface, as `streamlit run` does by default."""
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    yield
    config.set_option("server.address", before)


def test_a_network_address_without_sign_in_is_refused(listening_on_the_network, monkeypatch):
    at = open_app()
    assert at.title[0].value == "finml is not served on this address"
    assert "configure sign-in" in shown(at.error[0]) and "FINML_ALLOW_ANONYMOUS=1" in shown(
        at.error[0]
    )
    assert not [s for s in at.selectbox]  # nothing of the Data page
    monkeypatch.setenv("FINML_ALLOW_ANONYMOUS", "1")
    at = open_app()
    assert at.title[0].value != "finml is not served on this address"
    assert at.radio(key="source").value == "Built-in demo"


def test_with_sign_in_on_a_signed_out_visitor_sees_only_the_sign_in_page():
    at = open_app(user={})
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.radio and not at.selectbox and not at.exception


def test_each_user_sees_only_their_own_runs_on_every_page(german_spec):
    alice_run = train_and_log(german_spec("logreg"), "alice's model", owner=uid(ALICE))
    bob_run = train_and_log(german_spec("logreg"), "bob's model", owner=uid(BOB))

    home = open_app(user=ALICE)  # app.py's own run draws the sidebar
    assert "Signed in as Alice" in shown(home.sidebar.caption[0])
    assert [b.label for b in home.sidebar.button] == ["Sign out"]
    alice = open_app("runs", user=ALICE)
    assert alice.dataframe[0].value["run"].tolist() == ["alice's model"]

    for page in ("evaluate", "predict"):  # Bob's link to Alice's run: as if it did not exist
        bob = open_app(page, {"run": alice_run}, user=BOB)
        assert not bob.exception, bob.exception
        assert "The run in the link is not available" in shown(bob.info[0])
        chosen = bob.selectbox(key="eval_run" if page == "evaluate" else "predict_run")
        assert chosen.value == bob_run and chosen.options == [
            f"bob's model (finished, {bob_run[:8]})"
        ]
    gone = open_app("evaluate", {"run": "f" * 32}, user=BOB)
    assert (
        shown(gone.info[0])
        == "The run in the link is not available; showing the newest run instead."
    )

    train = open_app("train", {"run": alice_run}, user=BOB)
    assert "That run is not available" in shown(train.error[0])
    assert not [b for b in train.button if b.key == "stop"]


def test_a_shared_run_is_read_only_and_an_admin_sees_all_and_the_trail(german_spec, monkeypatch):
    alice_run = train_and_log(german_spec("logreg"), "alice's model", owner=uid(ALICE))
    alice = open_app("runs", user=ALICE)
    alice.toggle(key=f"share_{alice_run}").set_value(True).run()
    assert RunStore().get_run(alice_run).tags["finml.shared"] == "1"

    bob = open_app("runs", user=BOB)
    board = bob.dataframe[0].value
    assert board[["run", "owner", "shared"]].values.tolist() == [
        ["alice's model", f"alice-sub #{short_id(uid(ALICE))}", True]
    ]
    assert f"Shared with the team by alice-sub #{short_id(uid(ALICE))}: read-only to you." in (
        shown(bob.caption[1])
    )
    keys = {b.key for b in bob.button}
    assert "open_eval" in keys and not keys & {"delete", "export", "rename"}
    assert not [t for t in bob.toggle if t.key == f"share_{alice_run}"]
    evaluate = open_app("evaluate", {"run": alice_run}, user=BOB)
    assert not [b for b in evaluate.button if b.key == "save_threshold"]

    monkeypatch.setenv("FINML_ADMINS", "carol@bank.test")
    bob_run = train_and_log(german_spec("logreg"), "bob's model", owner=uid(BOB))
    assert "Signed in as Carol (admin)" in shown(open_app(user=CAROL).sidebar.caption[0])
    carol = open_app("runs", user=CAROL)
    assert set(carol.dataframe[0].value["run"]) == {"alice's model", "bob's model"}
    trail = carol.dataframe[-1].value
    assert {"sign_in", "share"} <= set(trail["action"])
    assert set(trail.loc[trail["action"] == "share", "target"]) == {alice_run}
    assert audit.verify(get_settings()) is None
    assert not [d for d in open_app("runs", user=BOB).dataframe if "action" in d.value]
    assert bob_run in {r.run_id for r in RunStore().list_runs()}


#: The pattern GitHub-flavoured Markdown (as Streamlit renders it) autolinks as an e-mail
#: address inside one text node (mdast-util-gfm-autolink-literal).
_EMAIL_LINK = re.compile(r"(?<![^\s\W])([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)")


def _text_nodes(markdown: str) -> list[str]:
    """The text nodes Streamlit's Markdown makes of ``markdown`` as ``pages.common.text``
    writes it: escapes read as the characters they stand for, an unescaped empty text
    directive (``:small[]``) ends a node."""
    nodes, current, i = [], "", 0
    while i < len(markdown):
        if markdown[i] == "\\" and i + 1 < len(markdown):
            current, i = current + markdown[i + 1], i + 2
        elif markdown.startswith(AUTOLINK_BREAK, i):
            nodes, current, i = [*nodes, current], "", i + len(AUTOLINK_BREAK)
        else:
            current, i = current + markdown[i], i + 1
    return [*nodes, current]


def test_a_signed_in_address_reads_and_copies_as_itself_and_is_no_mailto_link():
    dave = {"sub": "dave-sub", "email": "dave.k@bank.test", **VERIFIED}  # no name: the address
    caption = open_app(user=dave).sidebar.caption[0].value
    assert "\u2060" not in caption  # an invisible joiner would be copied with the address
    assert shown(caption) == "Signed in as dave.k@bank.test"
    assert "".join(_text_nodes(caption)) == "Signed in as dave.k@bank.test"
    assert not any(_EMAIL_LINK.search(node) for node in _text_nodes(caption))
    # the same with an address or a link inside other data a page quotes
    for data in ("ann@bank.example", "see http://evil.test and www.evil.test", "12:30"):
        nodes = _text_nodes(text(data))
        assert "".join(nodes) == data
        assert not any(_EMAIL_LINK.search(n) or re.search(r"https?://|www\.", n) for n in nodes)
