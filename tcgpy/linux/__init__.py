"""Linux user mode: ELF loading, the initial stack, the architecture-neutral
syscall layer and signals, on top of :class:`tcgpy.Emulator`."""
