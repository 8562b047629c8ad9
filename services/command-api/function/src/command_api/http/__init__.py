"""The HTTP face of the command side: routes, request parsing, problem+json answers."""
