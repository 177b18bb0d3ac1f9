"""Helpers shared by the tests: synthetic datasets and a killable command line."""
