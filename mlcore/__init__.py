"""mlcore: the work behind ML Studio (datasets, training, runs, evaluation, system status).

Domain packages, from the ground up; each imports only from those before it (tests/test_architecture.py):

    core → engine → datasets → devices → jobs → training → runs, system → charts → evaluation → export
    → api → cli

`worker.py` (python -m mlcore.worker JOB_ID) and `__main__.py` (python -m mlcore) sit on top, and
nothing imports them.

Importing `mlcore` or any of its modules never imports torch, ultralytics or streamlit: heavy
libraries are imported inside the functions that run in worker processes.

Command line: `python -m mlcore --help`.
"""

__version__ = "0.1.0"
