"""zunft: a self-hosted messenger for craft businesses. See docs/architecture.md."""

__version__ = "0.1.0"
