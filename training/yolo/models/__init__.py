"""Packaged model architecture YAMLs (package data), loaded by path: nothing is downloaded."""
