"""``python -m scenegen`` (also what ``torchrun -m scenegen train ...`` runs)."""

import sys

from .cli import main

sys.exit(main())
