"""Stand-in for AUTOMATIC1111's ``modules`` package (only what extensions touch here)."""
