"""`Flow[I, O]`: workflows as data that compile to Programs (not yet built)."""
