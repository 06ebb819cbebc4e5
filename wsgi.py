"""What gunicorn and `flask --app wsgi` load."""

from app_platform import create_app

app = create_app()
