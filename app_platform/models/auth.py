"""Users, roles and API tokens."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app_platform.models.base import ID, Base, Timestamps

BUILTIN_ROLES = {
    "admin": "管理员 Administrator",
    "designer": "设计者 Designer",
    "member": "成员 Member / approver",
    "integrator": "集成 Integrator",
}


class Role(Base):
    __tablename__ = "roles"
    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    builtin: Mapped[bool] = mapped_column(default=False)


user_roles = sa.Table(
    "user_roles",
    Base.metadata,
    sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role_key", sa.String(64), sa.ForeignKey("roles.key", ondelete="CASCADE"),
              primary_key=True),
)


class User(Timestamps, Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200), default="")
    email: Mapped[str | None] = mapped_column(sa.String(320))
    department: Mapped[str | None] = mapped_column(sa.String(200))
    manager: Mapped[str | None] = mapped_column(sa.String(64))
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    is_active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")

    @property
    def role_keys(self) -> set[str]:
        return {r.key for r in self.roles}

    @property
    def is_admin(self) -> bool:
        return "admin" in self.role_keys


class ApiToken(Base):
    """A bearer token, stored as its SHA-256 only. ``kind`` is ``session`` (from login,
    expires) or ``api`` (long-lived, scoped, for integrators)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    user_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    scopes: Mapped[list] = mapped_column(default=list)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    user: Mapped[User] = relationship(lazy="joined")
