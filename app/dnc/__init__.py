"""The DNC membership cache: a compact Redis encoding of each workspace's numbers."""

from app.dnc.cache import CacheState, DncCache, Layout, LayoutChanged, bits_for, number_of

__all__ = ["CacheState", "DncCache", "Layout", "LayoutChanged", "bits_for", "number_of"]
