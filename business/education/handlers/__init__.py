"""Education's four services: catalogue, authoring, learning, certificates."""
