"""WSGI entry point for gunicorn: `gunicorn bridge.wsgi:app`."""
from bridge.config import load_dotenv_if_present
from bridge.logs import configure

load_dotenv_if_present()
configure()

from bridge.app import create_app  # noqa: E402 - after .env is read

app = create_app()
