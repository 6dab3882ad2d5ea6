"""Old ``python -m pipeline.ckpt_probe`` entry point, kept so processes started before an upgrade
still find it; the code is in ``pipeline.probe.worker``."""

import sys

from pipeline.probe.worker import main

if __name__ == "__main__":
    sys.exit(main())
