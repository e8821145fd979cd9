"""``python -m tcgpy``: the same as the ``tcgpy`` command."""
import sys

from .cli import main

sys.exit(main())
