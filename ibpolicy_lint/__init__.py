"""ibpolicy-lint: EC2 Image Builder cross-account distribution failures, found before deploy."""

__version__ = "0.1.0"
