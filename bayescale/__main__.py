"""``python -m bayescale``: the command line, where the ``bayescale`` script is not on PATH."""

from .cli import main

if __name__ == "__main__":
    main()
