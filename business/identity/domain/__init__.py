"""Identity domain: pure rules and use cases, free of gRPC."""
