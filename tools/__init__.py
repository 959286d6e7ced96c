"""The project's CPython tools; none of this goes onto a board.

`make setup` puts the project root on the venv's import path (a .pth file), so every script and test imports
`tools.…` from there, with no sys.path changes of its own. ROOT is the project root.
"""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
