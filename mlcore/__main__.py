"""Entry point of `python -m mlcore`; see `mlcore.cli`."""

import sys

from mlcore.cli.main import main

sys.exit(main())
