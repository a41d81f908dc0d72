"""Mixture-of-Agents and team patterns, built on flows (not yet built)."""
