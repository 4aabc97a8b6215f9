"""canary: progressive delivery for Kubernetes Gateway API."""

__version__ = "0.1.0"
