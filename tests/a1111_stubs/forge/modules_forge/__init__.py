"""Stand-in for Forge's ``modules_forge`` package."""
