"""Extensions, created unbound here and bound in create_app with init_app."""

from app_platform.db import Database

db = Database()
