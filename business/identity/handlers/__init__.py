"""Identity's gRPC servicers: protos in, domain calls, protos out."""
