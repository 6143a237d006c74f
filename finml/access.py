"""Who may see and do what: the signed-in user (a :class:`Principal`), the one ownership
check every read and change of a run or staged dataset goes through, and a run store seen
through a principal's eyes (:class:`ScopedStore`).

Rules (one deployment, many analysts):

- A user's id is the OpenID provider's subject **namespaced by its issuer**
  (``<iss>|<sub>``): two providers' subjects never collide, and no signed-in user can be
  :data:`LOCAL_ID`, the single user of a deployment without sign-in.
- Every run belongs to the user who started (or imported) it: the ``finml.owner`` tag holds
  the owner's id. Runs from before sign-in existed belong to :data:`LOCAL_ID`; runs whose
  owner tag is an id of an older finml (a bare subject) belong to nobody who signs in now:
  only admins see them.
- A user sees their own runs and the runs their owners shared with the team
  (``finml.shared``); an admin sees every run.
- Only the owner or an admin may change a run (stop, delete, rename, re-threshold, share,
  export). A shared run is read-only to everyone else.
- A run one may not see behaves exactly like a run that does not exist: the same error,
  word for word, whatever the call. The same holds for staged datasets
  (:func:`finml.data.staging.check_dataset`), and a run reaches only data in its own
  owner's folder (:mod:`finml.run_data`).
- Admin rights come from ``FINML_ADMINS`` (e-mails), and only for an e-mail the provider
  vouches for (``email_verified`` true); an unverified match is refused and logged.
- What others read of a user (the owner column, "Shared by ...") is
  :attr:`Principal.display`: a verified e-mail or a name marked unverified, followed by a
  short id derived from the namespaced user id, so a chosen name cannot pass for someone
  else.

The :class:`ScopedStore` has an explicit API: each method of the run store is either
checked per run (:data:`READS`, :data:`CHANGES`) or declared global (:data:`GLOBALS`); there
is no way around it to the store or its MLflow client (``tests/test_access.py`` walks every
public method of :class:`finml.store.RunStore`).

Nothing here imports Streamlit: the pages turn ``st.user`` into a :class:`Principal` with
:func:`principal_from_claims` and pass it down.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from finml.errors import FinmlError, StoreError
from finml.store import OWNER_NAME_TAG, OWNER_TAG, SHARED_TAG

log = logging.getLogger("finml.access")

#: The single user of a deployment without sign-in.
LOCAL_ID = "local"
#: Separates the issuer from the subject in a signed-in user's id.
ISSUER_SEP = "|"


class AccessError(FinmlError):
    """The user may not do this (a visible run that only its owner may change), or the
    sign-in gave no usable identity."""


@dataclass(frozen=True)
class Principal:
    """The user a page acts for.

    Attributes:
        user_id: stable id: ``<iss>|<sub>`` (the provider's issuer and subject), or
            :data:`LOCAL_ID`.
        name: the name the provider gave (chosen by the user: never trusted as identity).
        email: the e-mail the provider gave ("" if none).
        admin: sees and may change every run, and reads the audit trail.
        email_verified: the provider vouches for ``email`` (claim ``email_verified``).
    """

    user_id: str
    name: str = ""
    email: str = ""
    admin: bool = False
    email_verified: bool = False

    @property
    def folder(self) -> str:
        """The user's folder name for staged data: 16 hex characters of SHA-256 of the id
        (never a name the client chose)."""
        return user_folder(self.user_id)

    @property
    def display(self) -> str:
        """How other users see this user: the verified e-mail, or the name marked
        unverified, then ``#`` and 6 hex characters of the id (which nobody can choose).
        The local user is ``local``."""
        if self.user_id == LOCAL_ID:
            return LOCAL_ID
        shown = self.email if self.email and self.email_verified else ""
        if not shown:
            shown = f"{self.name or 'user'} (unverified)"
        return f"{shown[:80]} #{short_id(self.user_id)}"


#: The principal of a deployment without sign-in: one user who owns everything.
LOCAL = Principal(LOCAL_ID, "local", "", admin=True)


def user_folder(user_id: str) -> str:
    """16 hex characters of SHA-256 of ``user_id``: the name of a user's data folder."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:16]


def short_id(user_id: str) -> str:
    """6 hex characters of SHA-256 of ``user_id``: shown after a user's name so that two
    users with the same chosen name (or a name equal to someone's e-mail) stay apart."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:6]


def user_id_of(issuer: str, subject: str) -> str:
    """The finml user id of ``subject`` at ``issuer``: ``<issuer>|<subject>``."""
    return f"{issuer}{ISSUER_SEP}{subject}"


def _true(value: object) -> bool:
    """An OpenID boolean claim: JSON ``true`` (some providers send the text "true")."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def principal_from_claims(claims: Mapping[str, object], admins: Iterable[str] = ()) -> Principal:
    """The principal of a signed-in user from the OpenID Connect claims (``st.user``).

    The id is the subject namespaced by the issuer (:func:`user_id_of`). Admin rights need
    the e-mail to be in ``admins`` **and** ``email_verified`` to be true: a provider that
    lets users type any e-mail would otherwise hand out the admin role. An unverified match
    is refused and logged (warning ``finml.access``).

    Args:
        claims: the ID token's claims: ``sub`` (required, the provider's stable id),
            ``iss`` (the provider), ``email``, ``email_verified`` and ``name`` (optional).
        admins: admins' e-mails (lower case).

    Raises:
        AccessError: no ``sub`` claim (the provider gave no stable identity).
    """
    sub = str(claims.get("sub") or "").strip()
    if not sub:
        raise AccessError(
            "The sign-in gave no user id (the provider's 'sub' claim is missing), so finml "
            "cannot keep your work apart from others'. Ask your administrator to check the "
            "OpenID provider's settings."
        )
    issuer = str(claims.get("iss") or "").strip()
    email = str(claims.get("email") or "").strip()
    verified = bool(email) and _true(claims.get("email_verified"))
    name = str(claims.get("name") or email or sub).strip()
    user_id = user_id_of(issuer, sub)
    listed = bool(email) and email.lower() in set(admins)
    if listed and not verified:
        log.warning(
            "Admin role refused to %s: the e-mail %s is in FINML_ADMINS but the provider "
            "does not mark it verified (email_verified is not true).",
            user_id,
            email,
        )
    return Principal(user_id, name, email, admin=listed and verified, email_verified=verified)


def is_loopback(address: str | None) -> bool:
    """True if a server bound to ``address`` is reachable from this machine only
    (``127.0.0.1``, ``::1``, ``localhost``); an empty address means every interface."""
    if not address:
        return False
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def owner_of(run) -> str:
    """The user id owning ``run`` (a :class:`finml.store.RunInfo`)."""
    return run.tags.get(OWNER_TAG) or LOCAL_ID


def owner_display(run) -> str:
    """How the owner of ``run`` is shown to others: the display name recorded when the run
    was created (:attr:`Principal.display`), else a short form of the owner's id."""
    recorded = run.tags.get(OWNER_NAME_TAG, "")
    owner = owner_of(run)
    suffix = f"#{short_id(owner)}"
    if recorded.endswith(suffix) or owner == LOCAL_ID:
        return recorded or owner
    return f"{owner.rsplit(ISSUER_SEP, 1)[-1][:40]} {suffix}"


def is_shared(run) -> bool:
    """True if the owner shared ``run`` with the team."""
    return run.tags.get(SHARED_TAG) == "1"


def may_see(who: Principal, run) -> bool:
    """The one visibility rule: own runs, shared runs, and every run for an admin."""
    return who.admin or owner_of(run) == who.user_id or is_shared(run)


def may_change(who: Principal, run) -> bool:
    """The one rule for changes: the owner, or an admin."""
    return who.admin or owner_of(run) == who.user_id


def not_found(run_id: str) -> StoreError:
    """The error of a run that does not exist, word for word as the store's own, so a
    run one may not see cannot be told apart from a missing one."""
    return StoreError(f"Run {run_id} is not in the run store.")


#: Store calls that read one run (first argument: the run id).
READS = ("get_run", "history", "fold_history", "read_frame", "read_json", "artifact", "trials")
#: Store calls that change one run (first argument: the run id): owner or admin only.
CHANGES = (
    "set_status",
    "set_threshold",
    "set_total_steps",
    "set_followup",
    "set_stage",
    "log_step",
    "log_steps",
    "log_metrics",
    "log_artifacts",
    "log_frame",
    "log_json",
    "log_trial",
    "log_dataset",
    "delete_run",
    "rename_run",
    "set_shared",
    "finish_import",
)
#: Store members a scoped store offers for no run in particular: listing (only visible
#: runs), creating (owned by the principal), the settings.
GLOBALS = ("list_runs", "create_run", "settings")
#: Store members a scoped store never offers: the MLflow client and experiment, which
#: reach every run unchecked.
HIDDEN = ("client", "experiment_id")


def _checked(name: str, change: bool):
    """A :class:`ScopedStore` method that runs :meth:`ScopedStore.check` on its first
    argument (the run id) before the store's method of the same name."""

    def method(self, run_id: str, *args, **kwargs):
        self.check(run_id, change)
        return getattr(self._store, name)(run_id, *args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"ScopedStore.{name}"
    what = "and may change it (owner or admin)" if change else ""
    method.__doc__ = (
        f":meth:`finml.store.RunStore.{name}`, once :meth:`check` says the principal may see "
        f"the run {what}."
    )
    return method


class ScopedStore:
    """A :class:`finml.store.RunStore` as one principal may use it, and nothing more.

    Every call that names a run goes through :meth:`check` first; :meth:`list_runs` lists
    only what the principal may see; :meth:`create_run` tags the new run with its owner.
    The store itself, its MLflow client and every method not declared here are out of
    reach (no attribute falls through).

    Args:
        store: the run store.
        who: the principal.
    """

    __slots__ = ("_store", "who")

    def __init__(self, store, who: Principal):
        self._store = store
        self.who = who

    @property
    def settings(self):
        """The store's :class:`finml.config.Settings`."""
        return self._store.settings

    def check(self, run_id: str, change: bool = False):
        """The run if ``who`` may see it (and change it, with ``change``).

        Raises:
            StoreError: no such run, or one ``who`` may not see (the same message).
            AccessError: a run ``who`` sees but may not change (shared by another user).
        """
        run = self._store.get_run(run_id)
        if not may_see(self.who, run):
            raise not_found(run_id)
        if change and not may_change(self.who, run):
            raise AccessError(
                f"Run {run.name!r} is shared with you read-only: only its owner can change "
                "it. Export it and import the copy to work on it."
            )
        return run

    def get_run(self, run_id: str):
        """:meth:`finml.store.RunStore.get_run`, through :meth:`check`."""
        return self.check(run_id)

    def list_runs(self, include_importing: bool = False):
        """The runs ``who`` may see, newest first (imports still being written only with
        ``include_importing``)."""
        runs = self._store.list_runs(include_importing=include_importing)
        return [r for r in runs if may_see(self.who, r)]

    def create_run(self, name: str, params: dict, tags: dict) -> str:
        """A new run owned by ``who`` (whatever ``tags`` say of an owner)."""
        owned = {**tags, OWNER_TAG: self.who.user_id, OWNER_NAME_TAG: self.who.display}
        owned.pop(SHARED_TAG, None)
        return self._store.create_run(name, params, owned)

    for _name in READS[1:]:
        locals()[_name] = _checked(_name, change=False)
    for _name in CHANGES:
        locals()[_name] = _checked(_name, change=True)
    del _name
