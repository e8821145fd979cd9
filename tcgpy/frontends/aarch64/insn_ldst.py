"""A64 loads and stores of general registers."""
