"""Identity and access: accounts, sessions, second factors, and the primitives they use."""
