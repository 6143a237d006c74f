"""Who may see and do what: the signed-in user (a :class:`Principal`), the one ownership
check every read and change of a run or staged dataset goes through, and a run store seen
through a principal's eyes (:class:`ScopedStore`).

Rules (one deployment, many analysts):

- Every run belongs to the user who started (or imported) it: the ``finml.owner`` tag holds
  the user's id, the provider's stable subject. Runs from before sign-in existed belong to
  :data:`LOCAL_ID`.
- A user sees their own runs and the runs their owners shared with the team
  (``finml.shared``); an admin sees every run.
- Only the owner or an admin may change a run (stop, delete, rename, re-threshold, share,
  export). A shared run is read-only to everyone else.
- A run one may not see behaves exactly like a run that does not exist: the same error,
  word for word, whatever the call. The same holds for staged datasets
  (:func:`finml.data.staging.check_dataset`).

Nothing here imports Streamlit: the pages turn ``st.user`` into a :class:`Principal` with
:func:`principal_from_claims` and pass it down.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from finml.errors import FinmlError, StoreError
from finml.store import OWNER_NAME_TAG, OWNER_TAG, SHARED_TAG

#: The single user of a deployment without sign-in.
LOCAL_ID = "local"


class AccessError(FinmlError):
    """The user may not do this (a visible run that only its owner may change), or the
    sign-in gave no usable identity."""


@dataclass(frozen=True)
class Principal:
    """The user a page acts for.

    Attributes:
        user_id: stable id: the provider's subject (``sub``), or :data:`LOCAL_ID`.
        name: what the sidebar shows (the e-mail or the name from the provider).
        email: the e-mail the provider gave ("" if none).
        admin: sees and may change every run, and reads the audit trail.
    """

    user_id: str
    name: str = ""
    email: str = ""
    admin: bool = False

    @property
    def folder(self) -> str:
        """The user's folder name for staged data: 16 hex characters of SHA-256 of the id
        (never a name the client chose)."""
        return user_folder(self.user_id)


#: The principal of a deployment without sign-in: one user who owns everything.
LOCAL = Principal(LOCAL_ID, "local", "", admin=True)


def user_folder(user_id: str) -> str:
    """16 hex characters of SHA-256 of ``user_id``: the name of a user's data folder."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:16]


def principal_from_claims(claims: Mapping[str, object], admins: Iterable[str] = ()) -> Principal:
    """The principal of a signed-in user from the OpenID Connect claims (``st.user``).

    Args:
        claims: the ID token's claims: ``sub`` (required, the provider's stable id),
            ``email`` and ``name`` (optional), ``iss``.
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
    email = str(claims.get("email") or "").strip()
    name = str(claims.get("name") or email or sub)
    return Principal(sub, name, email, admin=bool(email) and email.lower() in set(admins))


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
_READS = frozenset(
    {
        "get_run",
        "history",
        "fold_history",
        "read_frame",
        "read_json",
        "artifact",
        "trials",
    }
)
#: Store calls that change one run (first argument: the run id): owner or admin only.
_CHANGES = frozenset(
    {
        "set_status",
        "set_threshold",
        "set_total_steps",
        "set_followup",
        "log_step",
        "log_steps",
        "log_metrics",
        "log_artifacts",
        "log_frame",
        "log_json",
        "log_trial",
        "delete_run",
        "rename_run",
        "set_shared",
    }
)


class ScopedStore:
    """A :class:`finml.store.RunStore` as one principal may use it.

    Every call that names a run goes through :meth:`check` first; :meth:`list_runs` lists
    only what the principal may see; :meth:`create_run` tags the new run with its owner.
    Anything else (``settings``, ``client`` ...) is the underlying store's.

    Args:
        store: the run store.
        who: the principal.
    """

    def __init__(self, store, who: Principal):
        self.store = store
        self.who = who

    def check(self, run_id: str, change: bool = False):
        """The run if ``who`` may see it (and change it, with ``change``).

        Raises:
            StoreError: no such run, or one ``who`` may not see (the same message).
            AccessError: a run ``who`` sees but may not change (shared by another user).
        """
        run = self.store.get_run(run_id)
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

    def list_runs(self):
        """The runs ``who`` may see, newest first."""
        return [r for r in self.store.list_runs() if may_see(self.who, r)]

    def create_run(self, name: str, params: dict, tags: dict) -> str:
        """A new run owned by ``who``."""
        owned = {**tags, OWNER_TAG: self.who.user_id, OWNER_NAME_TAG: self.who.name}
        return self.store.create_run(name, params, owned)

    def __getattr__(self, name: str):
        attr = getattr(self.store, name)
        if name not in _READS and name not in _CHANGES:
            return attr
        change = name in _CHANGES

        def checked(run_id, *args, **kwargs):
            self.check(run_id, change)
            return attr(run_id, *args, **kwargs)

        return checked


def unscoped(store):
    """The run store behind a :class:`ScopedStore` (``store`` itself otherwise): for what
    the system does for everyone (marking runs whose worker died, the queue's order)."""
    return store.store if isinstance(store, ScopedStore) else store
