"""Credentials sent in a URL stay out of the server's access log.

The API reads its token from the Authorization header only, so a token put in the query string (?token=...) is
refused; but uvicorn's access log writes every request's path with its query string, and a log is read by more
people, and kept longer, than a secret should be. The filter rewrites each logged path: the values of query
parameters whose names look like credentials, and any value holding the API token itself, become ***.

    install_access_log_filter(token)   # once the app is made; uvicorn keeps a logger's filters when it configures it
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "***"
CREDENTIAL_NAMES = re.compile(r"token|key|secret|passw|auth|bearer|jwt|session|signature|credential", re.IGNORECASE)


def has_credentials(names: list[str]) -> bool:
    """Whether any of these query parameter names looks like a credential's."""
    return any(CREDENTIAL_NAMES.search(name) for name in names)


def redacted(target: str, secrets: tuple[str, ...] = ()) -> str:
    """`target` (a path with its query string, as sent) with its credential values replaced by ***."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    items = []
    for item in query.split("&"):
        raw_name, eq, value = item.partition("=")
        name = unquote_plus(raw_name)
        if any(s in name for s in secrets if s):
            item = REDACTED  # the token typed as a parameter of its own
        elif eq and (has_credentials([name]) or any(s in unquote_plus(value) for s in secrets if s)):
            item = f"{raw_name}={REDACTED}"
        items.append(item)
    return f"{path}?{'&'.join(items)}"


class CredentialRedaction(logging.Filter):
    """Rewrites the request path of uvicorn's access records ('%s - "%s %s HTTP/%s" %d': the third argument)."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], redacted(args[2], self.secrets), *args[3:])
        return True


def install_access_log_filter(token: str | None) -> None:
    """Put the redaction on uvicorn's access logger (replacing one an earlier app put there)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    for earlier in [f for f in logger.filters if isinstance(f, CredentialRedaction)]:
        logger.removeFilter(earlier)
    logger.addFilter(CredentialRedaction((token,) if token else ()))
