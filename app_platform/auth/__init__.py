"""Authentication (who is calling) and permissions (what they may do)."""
