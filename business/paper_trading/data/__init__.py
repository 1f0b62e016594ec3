"""Paper trading tables (trading and investment schemas) and the repository."""
