"""What several business features share: the one store (database.py) and proto mapping helpers."""
