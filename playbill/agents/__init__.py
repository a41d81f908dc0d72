"""The agent layer on actors: tasks, streaming, progress events, span links (not yet built)."""
