"""WSGI entry point for gunicorn: `gunicorn bridge.wsgi:app`."""
from bridge.config import load_dotenv_if_present
from bridge.logs import configure

load_dotenv_if_present()
configure()

from bridge.app import create_app  # noqa: E402 - after .env is read
from bridge.web import body_deadline  # noqa: E402

flask_app = create_app()
# gunicorn serves this: the Flask app behind a time limit on reading request bodies.
app = body_deadline.wrap(flask_app, flask_app.extensions["bridge"].settings)
