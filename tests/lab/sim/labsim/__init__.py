"""Simulators of Amazon DCV and its companions for the dcvctl lab (tests/lab)."""
