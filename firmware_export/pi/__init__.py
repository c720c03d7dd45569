"""Raspberry Pi target: a bundle with the int8 model and a standalone streaming runner, and SSH deployment."""
