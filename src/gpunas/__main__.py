"""``python -m gpunas``: the same as the ``gpunas`` command."""

import sys

from gpunas.cli import main

sys.exit(main())
