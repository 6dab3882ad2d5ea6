"""The test suite, laid out like the code: tests/pipeline/<sub>/, tests/tui/, tests/project/; helpers in support/."""
