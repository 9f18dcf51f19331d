"""The media worker: makes attached images safe to show and cleans up attachment files."""
