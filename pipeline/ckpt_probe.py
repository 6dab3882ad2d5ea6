"""Old ``python -m pipeline.ckpt_probe`` entry point, kept so processes started before an upgrade
still find it; the code is in ``pipeline.checkpoints.probe``."""

import sys

from pipeline.checkpoints.probe import main

if __name__ == "__main__":
    sys.exit(main())
