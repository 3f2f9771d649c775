"""marathon: the order in which a web handler awaits its work decides what the user waits for
and what can be lost. See README.md."""

__version__ = "0.1.0"
