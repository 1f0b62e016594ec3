"""EngineService: the engine's health and its call and model statistics."""
