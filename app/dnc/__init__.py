"""The DNC membership cache: a compact Redis encoding of each workspace's numbers."""

from app.dnc.cache import DncCache
from app.dnc.encoding import CacheState, Layout, LayoutChanged, bits_for, number_of

__all__ = ["CacheState", "DncCache", "Layout", "LayoutChanged", "bits_for", "number_of"]
