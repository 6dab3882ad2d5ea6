"""Old ``python -m pipeline.supervisor`` entry point, kept so processes started before an upgrade
still find it; the code is in ``pipeline.runs.supervisor``."""

import sys

from pipeline.runs.supervisor import main

if __name__ == "__main__":
    sys.exit(main())
