"""The dependency-free int8 C engine: graph lowering, arena planning, code emission, host runner."""
