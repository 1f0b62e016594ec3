"""The Python side of the edge: plain HTTP beside Envoy (JWKS, dev tokens, API docs, web app)."""
