"""Who may use a shared studio: login through Streamlit's OIDC support, and an allow-list.

Login is configured by an `[auth]` section in `.streamlit/secrets.toml` (Streamlit's own format:
redirect_uri, cookie_secret, client_id, client_secret, server_metadata_url). Without it the studio
is for local use: every user is "local". With it, only addresses on the allow-list get in.

    is_allowed("ana@lab.example", ("@lab.example",))   # True
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from mlcore.core.settings import PROJECT_ROOT

SECRETS_FILES = (PROJECT_ROOT / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml")
AUTH_KEYS = ("redirect_uri", "cookie_secret")


def is_allowed(email: str | None, allowed: tuple[str, ...]) -> bool:
    """True when `email` is listed, or its domain is listed as '@domain'. An empty list lets nobody in."""
    if not email or "@" not in email:
        return False
    email = email.strip().lower()
    domain = "@" + email.rpartition("@")[2]
    return any(entry == email or entry == domain for entry in allowed)


def login_configured(files: tuple[Path, ...] = SECRETS_FILES) -> bool:
    """True when a secrets file has an [auth] section with the keys Streamlit's login needs."""
    for path in files:
        try:
            auth = tomllib.loads(path.read_text()).get("auth")
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if isinstance(auth, dict) and all(auth.get(key) for key in AUTH_KEYS):
            return True
    return False


def api_token(environment_token: str, files: tuple[Path, ...] | None = None) -> str | None:
    """The HTTP API's token: ML_STUDIO_API_TOKEN, else `token` of an [api] section in a secrets file."""
    if environment_token:
        return environment_token
    for path in SECRETS_FILES if files is None else files:
        try:
            section = tomllib.loads(path.read_text()).get("api")
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if isinstance(section, dict) and str(section.get("token") or "").strip():
            return str(section["token"]).strip()
    return None
