"""A64 data processing (register)."""
