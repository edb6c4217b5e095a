"""Starts the web app with app.py's st.navigation in charge from the very first request.

Streamlit (1.67) treats a `pages/` folder beside the main script as a legacy multipage app until
some session has run `st.navigation`: a first visitor who opens a page's address directly after a
restart would get that page without the frame (no sections, titles or layout). The studio keeps
its pages in `pages/` and lists them in app.py, so the legacy mode is switched off here.

    python serve_app.py run app.py [streamlit options]   (what `python -m mlcore app` runs)
"""

import sys

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web.cli import main

PagesManager.uses_pages_directory = False

if __name__ == "__main__":
    sys.exit(main(prog_name="streamlit"))
