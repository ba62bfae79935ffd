"""Tests of the documentation against the project as it is."""
