"""`python -m mlcore app | serve`: start the web app (Streamlit) or the HTTP API (FastAPI), safely bound."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from mlcore.cli.follow import EXIT_USAGE, fail
from mlcore.core.settings import LOOPBACK_HOSTS, PROJECT_ROOT, Settings


def add_app_parser(sub: Any) -> None:
    app = sub.add_parser("app", help="start the web app (Streamlit)")
    app.add_argument("--host", help="address to bind (default ML_STUDIO_HOST or 127.0.0.1)")
    app.add_argument("--port", type=int, help="port (default ML_STUDIO_PORT or 8501)")
    app.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="listen on a non-local address without a login (trusted networks only)",
    )
    app.set_defaults(func=cmd_app)


def add_serve_parser(sub: Any) -> None:
    serve = sub.add_parser("serve", help="start the HTTP API (FastAPI; OpenAPI documentation at /docs)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--quiet", action="store_true", help="log warnings only, not every request")
    serve.set_defaults(func=cmd_serve)


def cmd_app(args: argparse.Namespace, settings: Settings) -> int:
    host = args.host or settings.host
    port = args.port or settings.port
    if host not in LOOPBACK_HOSTS:
        from mlcore.core.access import login_configured

        if login_configured():
            print(f"ML Studio listens on {host}: users log in, and only the allow-list gets in.", file=sys.stderr)
        elif not args.allow_unauthenticated:
            return fail(
                f"refusing to listen on {host} without a login: anyone who can reach it could read datasets and "
                "start jobs on this server. Configure login ([auth] in .streamlit/secrets.toml and "
                "ML_STUDIO_ALLOWED_USERS; see the README's 'Deploying for a team'), bind to 127.0.0.1, or pass "
                "--allow-unauthenticated to accept the risk on a trusted network.",
                EXIT_USAGE,
            )
        else:
            print(
                "\n" + "!" * 78 + f"\n  WARNING: ML Studio will listen on {host} WITHOUT A LOGIN.\n"
                "  Anyone who can reach it can read datasets and start trainings on this server.\n"
                "  Bind to 127.0.0.1 for local use, or configure login (README: Deploying for a team).\n"
                + "!" * 78
                + "\n",
                file=sys.stderr,
            )
    command = [
        sys.executable,
        str(PROJECT_ROOT / "serve_app.py"),
        "run",
        str(PROJECT_ROOT / "app.py"),
        "--server.address",
        host,
        "--server.port",
        str(port),
    ]
    os.chdir(PROJECT_ROOT)
    os.execv(sys.executable, command)  # replaces this process; Ctrl+C stops the app
    return 0  # reached only where execv is replaced (tests)


MIN_TOKEN_CHARS = 16


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.core.access import api_token

    token = api_token(settings.api_token)
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        return fail(
            f"the API token is {len(token)} characters long; use at least {MIN_TOKEN_CHARS} random ones "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))').",
            EXIT_USAGE,
        )
    if args.host not in LOOPBACK_HOSTS and token is None:
        return fail(
            f"refusing to serve the API on {args.host} without a token: anyone who can reach it could read "
            "datasets and start jobs. Set ML_STUDIO_API_TOKEN (or [api] token in .streamlit/secrets.toml), "
            "or bind to 127.0.0.1.",
            EXIT_USAGE,
        )
    import uvicorn

    from mlcore.api.app import create_api

    api = create_api(settings, token=token, cors_origins=settings.api_cors_origins)
    needs = "a token (Authorization: Bearer ...)" if token else "no token (local use)"
    print(f"ML Studio API on http://{args.host}:{args.port} with {needs}; documentation at /docs", file=sys.stderr)
    uvicorn.run(api, host=args.host, port=args.port, log_level="warning" if args.quiet else "info")
    return 0
