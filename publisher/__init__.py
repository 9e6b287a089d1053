"""publisher: write a press release once, publish it to every channel."""

__version__ = "0.1.0"
