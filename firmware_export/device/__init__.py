"""The monitoring firmware on a device: building its image, flashing or booting it (QEMU), and talking to it
over a serial port (``drsn-edge flash``, ``monitor``, ``validate-device``)."""
