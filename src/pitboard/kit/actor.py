"""Who is acting: every service call that changes data carries an actor for the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from pitboard.kit.errors import Forbidden

_ROLE_RANK = {"viewer": 0, "editor": 1, "admin": 2}


@dataclass(frozen=True)
class Actor:
    name: str
    interface: str  # api, web, cli, worker, system
    role: str = "admin"

    def require(self, role: str) -> None:
        if _ROLE_RANK.get(self.role, -1) < _ROLE_RANK[role]:
            raise Forbidden(f"this needs the {role} role; {self.name} has {self.role}")


SYSTEM = Actor(name="system", interface="system", role="admin")
