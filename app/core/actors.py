"""Who did something: a client user, a staff member or the system, as services record it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flask import g, request
from flask_login import current_user

Kind = Literal["user", "staff", "system"]


@dataclass(frozen=True)
class Actor:
    """The one who asked for a change, and from where.

    `str(actor)` is what the ledger, change log and logs store: "user:3", "staff:2",
    and for the system its name ("billing-run", "gateway:test") or plain "system".
    """

    kind: Kind
    id: int | None = None
    ip: str | None = None
    name: str | None = None
    #: The browser's User-Agent header, for what records a browser (sessions, sign-in history).
    user_agent: str | None = None
    #: A client user's actions taken by this staff member signed in as them (support access).
    by_staff: int | None = None

    @classmethod
    def user(cls, user, *, ip: str | None = None, user_agent: str | None = None) -> Actor:
        """A client user (the owner or a trusted user); `user` is anything with an `id`."""
        return cls("user", user.id, ip, user_agent=user_agent)

    @classmethod
    def staff(cls, staff, *, ip: str | None = None) -> Actor:
        return cls("staff", staff.id, ip)

    @classmethod
    def system(cls, name: str | None = None) -> Actor:
        """A job or an outside party we trust by signature: Actor.system("billing-run")."""
        return cls("system", name=name)

    def as_user(self, user) -> Actor:
        """The same request (IP, browser) acting as `user`: one who proved who they are
        by a link or a cookie, whoever this browser had signed in."""
        return Actor.user(user, ip=self.ip, user_agent=self.user_agent)

    def __str__(self) -> str:
        if self.kind == "system":
            return self.name or "system"
        if self.by_staff is not None:
            return f"staff:{self.by_staff} as {self.kind}:{self.id}"  # support access, on the user's behalf
        return f"{self.kind}:{self.id}"


def request_actor(*, for_user=None) -> Actor:
    """The signed-in user or staff member of this request, with its IP and User-Agent.
    For views (and the sign-in layer) only: services take the Actor as an argument and
    never read the request.

    `for_user`: the client user this request is signing in, who is not `current_user` yet.
    """
    ip, agent = request.remote_addr, request.headers.get("User-Agent")
    if for_user is not None:
        return Actor.user(for_user, ip=ip, user_agent=agent)
    kind, _, rest = (current_user.get_id() or "").partition(":")
    if kind not in ("user", "staff") or not current_user.is_authenticated:
        return Actor("system", ip=ip, user_agent=agent)
    # Staff signed in as the client (support access, app.security.signin) act on the user's
    # behalf: what they do is the user's, and says which staff member did it.
    by_staff = g.get("acting_staff_id") if kind == "user" else None
    return Actor(kind, int(rest.split(":", 1)[0]), ip, user_agent=agent, by_staff=by_staff)
