"""mlcore: the work behind ML Studio (datasets, training, runs, evaluation, system status).

Importing `mlcore` or any of its modules never imports torch, ultralytics or streamlit: heavy
libraries are imported inside the functions that run in worker processes.

Command line: `python -m mlcore --help`.
"""

__version__ = "0.1.0"
