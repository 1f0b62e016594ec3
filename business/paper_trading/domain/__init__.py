"""Paper trading rules, pure: entities, the bar matcher (service_runtime.fill_model), order use cases."""
