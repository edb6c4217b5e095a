"""Who is using the app: "local" without login, else the logged-in e-mail address, if allowed.

Called by app.py before any page runs; a user who is not logged in, or not on the allow-list, sees
only a page that says so (with a log-in or log-out button), never the studio.
"""

import streamlit as st

from mlcore.core.access import is_allowed, login_configured
from mlcore.core.settings import LOCAL_USER, Settings

USER_KEY = "studio.user"


def current_user() -> str:
    """The user of this session, as stored by `require_user` ("local" when there is no login)."""
    return st.session_state.get(USER_KEY, LOCAL_USER)


def require_user(settings: Settings) -> str:
    """The session's user; stops the script with a login or not-allowed page when there is none yet."""
    if not login_configured():
        st.session_state[USER_KEY] = LOCAL_USER
        return LOCAL_USER
    if not st.user.get("is_logged_in", False):  # absent until Streamlit reads the [auth] secrets
        st.title("ML Studio")
        st.info("This studio is shared: log in to use it.", icon=":material/lock:")
        st.button("Log in", type="primary", on_click=st.login, icon=":material/login:")
        st.stop()
    email = str(st.user.get("email") or "")
    if not is_allowed(email, settings.allowed_users):
        st.title("ML Studio")
        st.error(
            f"{email or 'This account'} is not on this studio's list of users. Ask its administrator to add "
            "your address (or your domain) to ML_STUDIO_ALLOWED_USERS.",
            icon=":material/block:",
        )
        st.button("Log out", on_click=st.logout, icon=":material/logout:")
        st.stop()
    st.session_state[USER_KEY] = email.lower()
    return email.lower()
