"""Data: raw files -> validated area x period panel."""
