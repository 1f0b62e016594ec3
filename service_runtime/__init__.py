"""Runtime pieces shared by every Python service: config, logging, errors, health, metrics, serving.

Written once here and used by business, ml_engine and gateway alike.
"""
