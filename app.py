"""ML Studio web app: the frame around the pages (navigation, page config, logging).

make run                  # or: python -m mlcore app   (or: streamlit run app.py)
"""

import logging

import streamlit as st

from mlcore import __version__
from mlcore.core.settings import SettingsError, load_settings
from ui.auth import require_user

# basicConfig is a no-op once the root logger has a handler, so reruns configure nothing twice.
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

st.set_page_config(page_title="ML Studio", page_icon=":material/center_focus_strong:", layout="wide")

PAGES = {
    "Data": [
        st.Page("pages/datasets.py", title="Dataset validation", icon=":material/rule:"),
        st.Page("pages/quality.py", title="Data quality", icon=":material/troubleshoot:"),
    ],
    "Train": [
        st.Page("pages/training.py", title="Training", icon=":material/model_training:"),
        st.Page("pages/runs.py", title="Runs", icon=":material/insights:"),
        st.Page("pages/evaluation.py", title="Model evaluation", icon=":material/fact_check:"),
        st.Page("pages/tuning.py", title="Tuning", icon=":material/tune:"),
    ],
    "Deploy": [
        st.Page("pages/export.py", title="Export", icon=":material/output:"),
        st.Page("pages/predict.py", title="Predict", icon=":material/center_focus_strong:"),
        st.Page("pages/models.py", title="Models", icon=":material/inventory_2:"),
        st.Page("pages/pipelines.py", title="Pipelines", icon=":material/account_tree:"),
    ],
    "Monitor": [
        st.Page("pages/status.py", title="System status", icon=":material/monitor_heart:", default=True),
    ],
}

try:
    settings = load_settings()
except SettingsError as exc:  # nothing works without settings, and a login may depend on them
    st.title("ML Studio")
    st.error(f"The studio's configuration is not usable: {exc}", icon=":material/error:")
    st.stop()
user = require_user(settings)
page = st.navigation(PAGES)
with st.sidebar:
    st.caption(f"ML Studio {__version__} · outputs in `{settings.outputs_root}`")
    if user != "local":
        st.caption(f":material/person: {user}")
        st.button("Log out", on_click=st.logout, icon=":material/logout:", key="studio.logout")
page.run()
