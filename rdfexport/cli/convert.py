"""Placeholder; the real command lands with the core pipeline commit."""
