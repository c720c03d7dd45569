"""The dependency-free int8 C engine: graph lowering, arena planning, code emission, its C sources, host runner."""
