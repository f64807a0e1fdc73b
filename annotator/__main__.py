"""`python -m annotator [FOLDER]`."""
import sys

from annotator.app import main

sys.exit(main())
