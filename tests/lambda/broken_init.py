"""A module that fails at import: the runtime reports an init error."""
raise RuntimeError("cannot initialise")
