"""The platform's own tables, split by domain."""

from app_platform.models import flows as flows  # flow tables (models/flows.py)
from app_platform.models import reports as reports  # report/dashboard definitions
from app_platform.models import rule_state as rule_state  # matcher window snapshot
from app_platform.models import rules as rules  # rule definitions, outbox, run log
from app_platform.models.apps import GRANT_LEVELS, App, AppGrant, Entity, EntityVersion
from app_platform.models.auth import BUILTIN_ROLES, ApiToken, Role, User, user_roles
from app_platform.models.base import Base, utcnow
from app_platform.models.records import AuditEntry, Counter, Job
from app_platform.models.uploads import Upload as Upload  # attachments (models/uploads.py)

__all__ = [
    "BUILTIN_ROLES", "GRANT_LEVELS", "ApiToken", "App", "AppGrant", "AuditEntry", "Base",
    "Counter", "Entity", "EntityVersion", "Job", "Role", "User", "user_roles", "utcnow",
]
