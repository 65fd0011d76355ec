"""krkn-tui: a keyboard-driven terminal chaos console for Kubernetes."""

__version__ = "0.1.0"
