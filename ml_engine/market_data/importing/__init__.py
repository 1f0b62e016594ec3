"""Importing bars into the market store: CSV files, bundled sample data, a console script."""
