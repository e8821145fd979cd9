"""Random A64 load/store, branch and system encodings (owned by the a64-ls helper)."""
