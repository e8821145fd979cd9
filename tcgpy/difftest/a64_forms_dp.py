"""Random A64 data-processing encodings (owned by the a64-dp helper)."""
