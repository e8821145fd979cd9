"""Differential testing of tcgpy against Unicorn."""
