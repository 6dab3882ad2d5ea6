"""Helpers shared by the tests (no tests here): paths, the `aba` command, stubs and fakes at the edge."""
