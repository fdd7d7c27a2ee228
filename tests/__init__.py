"""Cross-package tests (a package, so tests.servers imports the same way everywhere)."""
