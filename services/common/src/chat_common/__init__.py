"""Shared library of the chat services. Imports no service."""
