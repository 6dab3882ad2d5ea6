"""Old ``python -m pipeline.worker`` entry point, kept so processes started before an upgrade
still find it; the code is in ``pipeline.runs.worker``."""

import sys

from pipeline.runs.worker import main

if __name__ == "__main__":
    sys.exit(main())
