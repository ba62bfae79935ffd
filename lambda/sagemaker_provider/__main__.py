"""Entry point of ``python -m sagemaker_provider``."""

import sys

from .cli import main

sys.exit(main())
